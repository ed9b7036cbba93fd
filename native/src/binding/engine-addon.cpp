// Entry point of the `sovren_engine.node` addon: registers the Model, Sequence and RtpPacer classes and exports
// loadModel(path, {threads, contextSize, weights, backend, kvCacheTokens}), which maps and validates the file on a
// worker thread.
#include <cstdint>

#include "binding/node-addon-api.h"

#include "binding/binding-support.h"
#include "binding/gpu-metrics-binding.h"
#include "binding/model-object.h"
#include "binding/rtp-pacer-object.h"
#include "binding/sequence-object.h"
#include "binding/whisper-object.h"

namespace sovren::binding {
namespace {

class LoadModelWorker : public Napi::AsyncWorker {
 public:
  LoadModelWorker(Napi::Env env, std::string path, ModelLoadOptions options)
      : Napi::AsyncWorker(env, "sovren.loadModel"),
        deferred_(Napi::Promise::Deferred::New(env)),
        path_(std::move(path)),
        options_(options) {}

  Napi::Promise promise() const { return deferred_.Promise(); }

  // The file's architecture picks the model class: an encoder (BERT family) or a llama-family decoder.
  void Execute() override {
    try {
      std::unique_ptr<GgufFile> gguf = GgufFile::open(path_);
      if (is_bert_architecture(gguf->get_string_or("general.architecture", ""))) {
        encoder_ = std::make_unique<BertModel>(std::move(gguf), options_);
      } else {
        model_ = std::make_unique<LlamaModel>(std::move(gguf), options_);
      }
    } catch (const std::exception& e) {
      SetError(e.what());
    } catch (...) {
      SetError("unknown native error while loading '" + path_ + "'");
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(encoder_ ? ModelObject::create(env, std::move(encoder_))
                                 : ModelObject::create(env, std::move(model_)));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  ModelLoadOptions options_;
  std::unique_ptr<LlamaModel> model_;
  std::unique_ptr<BertModel> encoder_;
};

Napi::Value load_model(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsString()) throw_type_error(env, "loadModel(path): path must be a string");
    const Napi::Object opts = optional_object(info, 1, "loadModel options");
    ModelLoadOptions options;
    const int64_t threads = integer_or(opts, "threads", 0, "options");
    const int64_t context = integer_or(opts, "contextSize", 0, "options");
    if (threads < 0 || threads > 4096) throw_type_error(env, "options.threads must be in 0..4096 (0: all cores)");
    if (context < 0 || context > (1 << 24)) throw_type_error(env, "options.contextSize must be in 0..16777216");
    options.n_threads = static_cast<int>(threads);
    options.n_ctx = static_cast<int>(context);
    const int64_t kv_tokens = integer_or(opts, "kvCacheTokens", 0, "options");
    if (kv_tokens < 0 || kv_tokens > INT32_MAX) {
      throw_type_error(env, "options.kvCacheTokens must be in 0..2147483647 (0: the default pool)");
    }
    options.kv_cache_tokens = kv_tokens;
    const Napi::Value weights = opts.Get("weights");
    if (!weights.IsUndefined() && !weights.IsNull()) {
      const std::string mode = weights.IsString() ? weights.As<Napi::String>().Utf8Value() : std::string();
      if (mode == "copy") {
        options.weights = WeightStorage::Copy;
      } else if (mode == "mmap") {
        options.weights = WeightStorage::Mmap;
      } else {
        throw_type_error(env, "options.weights must be 'copy' or 'mmap'");
      }
    }
    const Napi::Value backend = opts.Get("backend");
    if (!backend.IsUndefined() && !backend.IsNull()) {
      if (!backend.IsString()) throw_type_error(env, "options.backend must be 'cpu', 'cuda' or 'auto'");
      options.backend = backend.As<Napi::String>().Utf8Value();
    }
    auto* worker = new LoadModelWorker(env, info[0].As<Napi::String>().Utf8Value(), options);
    Napi::Promise promise = worker->promise();
    worker->Queue();  // the worker deletes itself after OnOK / OnError
    return promise;
  });
}

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData(data);  // deleted by Node when the environment goes away
  data->model_constructor = Napi::Persistent(ModelObject::define(env));
  data->sequence_constructor = Napi::Persistent(SequenceObject::define(env));
  exports.Set("loadModel", Napi::Function::New<load_model>(env, "loadModel"));
  exports.Set("gpuMetrics", Napi::Function::New<gpu_metrics>(env, "gpuMetrics"));
  register_whisper(env, exports);
  register_rtp_pacer(env, exports);
  return exports;
}

}  // namespace sovren::binding

// NODE_API_MODULE pastes its second argument into an identifier, so it needs an unqualified name.
static Napi::Object init_sovren_engine(Napi::Env env, Napi::Object exports) {
  return sovren::binding::init(env, exports);
}
NODE_API_MODULE(sovren_engine, init_sovren_engine)
