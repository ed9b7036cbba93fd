// Model.embed(inputs, {pooling, normalize}): one embedding per token-id input, computed on a libuv worker thread
// (the encoder pass of a BERT-family model, or a llama-family model's final-norm hidden states). Arguments are
// checked on the JS thread, so a bad call rejects before any work starts; the result is a Float32Array per input.
#include <cstring>
#include <string>

#include "binding/model-object.h"

namespace sovren::binding {
namespace {

class EmbedWorker : public Napi::AsyncWorker {
 public:
  EmbedWorker(Napi::Env env, std::shared_ptr<LlamaModel> model, std::shared_ptr<BertModel> encoder,
              std::vector<std::vector<int32_t>> inputs, Pooling pooling, bool normalize)
      : Napi::AsyncWorker(env, "sovren.embed"),
        deferred_(Napi::Promise::Deferred::New(env)),
        model_(std::move(model)),
        encoder_(std::move(encoder)),
        inputs_(std::move(inputs)),
        pooling_(pooling),
        normalize_(normalize) {}

  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      results_ =
          encoder_ ? encoder_->embed(inputs_, pooling_, normalize_) : model_->embed(inputs_, pooling_, normalize_);
    } catch (const std::exception& e) {
      SetError(e.what());
    } catch (...) {
      SetError("unknown native error while computing embeddings");
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    try {
      Napi::Array out = Napi::Array::New(env, results_.size());
      for (size_t i = 0; i < results_.size(); ++i) {
        Napi::Float32Array vector = Napi::Float32Array::New(env, results_[i].size());
        std::memcpy(vector.Data(), results_[i].data(), results_[i].size() * sizeof(float));
        out.Set(static_cast<uint32_t>(i), vector);
      }
      deferred_.Resolve(out);
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<LlamaModel> model_;  // exactly one of the two is set; held so close() cannot free it mid-pass
  std::shared_ptr<BertModel> encoder_;
  std::vector<std::vector<int32_t>> inputs_;
  Pooling pooling_;
  bool normalize_;
  std::vector<std::vector<float>> results_;
};

}  // namespace

Napi::Value ModelObject::embed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    std::shared_ptr<BertModel> encoder = handle_ ? handle_->encoder : nullptr;
    std::shared_ptr<LlamaModel> model;
    if (!encoder) {
      open_model(env);  // throws when closed
      model = handle_->model;
    }
    const int n_vocab = encoder ? encoder->n_vocab() : model->n_vocab();
    const int n_ctx = encoder ? encoder->context_size() : model->context_size();
    if (info.Length() < 1 || !info[0].IsArray()) {
      throw_type_error(env, "embed(inputs): inputs must be an array of token-id arrays");
    }
    const auto array = info[0].As<Napi::Array>();
    if (array.Length() == 0) throw Napi::RangeError::New(env, "embed(inputs): inputs must not be empty");
    std::vector<std::vector<int32_t>> inputs(array.Length());
    for (uint32_t i = 0; i < array.Length(); ++i) {
      const std::string name = "inputs[" + std::to_string(i) + "]";
      inputs[i] = read_token_ids(env, array.Get(i), name.c_str());
      if (inputs[i].empty()) throw Napi::RangeError::New(env, name + " must not be empty");
      if (inputs[i].size() > static_cast<size_t>(n_ctx)) {
        throw Napi::RangeError::New(env, name + " has " + std::to_string(inputs[i].size()) +
                                             " tokens, more than the context size " + std::to_string(n_ctx));
      }
      for (size_t j = 0; j < inputs[i].size(); ++j) {
        if (inputs[i][j] < 0 || inputs[i][j] >= n_vocab) {
          throw Napi::RangeError::New(env, name + "[" + std::to_string(j) + "] = " + std::to_string(inputs[i][j]) +
                                               " is out of range (vocabulary has " + std::to_string(n_vocab) +
                                               " tokens)");
        }
      }
    }
    const Napi::Object opts = optional_object(info, 1, "embed options");
    Pooling pooling = encoder ? encoder->hparams().pooling : Pooling::Last;
    const Napi::Value pooling_value = opts.Get("pooling");
    if (!pooling_value.IsUndefined()) {
      const auto parsed =
          pooling_value.IsString() ? pooling_from_name(pooling_value.As<Napi::String>().Utf8Value()) : std::nullopt;
      if (!parsed) throw_type_error(env, "options.pooling must be 'mean', 'cls' or 'last'");
      pooling = *parsed;
    }
    const bool normalize = bool_or(opts, "normalize", true, "options");
    auto* worker = new EmbedWorker(env, std::move(model), std::move(encoder), std::move(inputs), pooling, normalize);
    Napi::Promise promise = worker->promise();
    worker->Queue();  // the worker deletes itself after OnOK / OnError
    return promise;
  });
}

}  // namespace sovren::binding
