// Model.step(entries): one batched forward pass over several sequences (model/batch-step.h) on a libuv worker
// thread. Every entry is checked on the JS thread before anything starts, so a bad batch rejects without touching
// any sequence; the sequences are marked in_step until the promise settles, so nothing else can use them meanwhile.
#include <string>
#include <unordered_set>

#include "binding/model-object.h"
#include "binding/sequence-object.h"
#include "model/batch-step.h"

namespace sovren::binding {
namespace {

class StepWorker : public Napi::AsyncWorker {
 public:
  StepWorker(Napi::Env env, std::shared_ptr<LlamaModel> model)
      : Napi::AsyncWorker(env, "sovren.step"), deferred_(Napi::Promise::Deferred::New(env)), model_(std::move(model)) {}

  Napi::Promise promise() const { return deferred_.Promise(); }

  void add(std::shared_ptr<SequenceSlot> slot, std::vector<int32_t> tokens, bool sample) {
    entries_.push_back(StepEntry{slot->seq.get(), std::move(tokens), sample});
    sequences_.push_back(slot->seq);
    slots_.push_back(std::move(slot));
  }

  // Marks the sequences, then queues; the worker deletes itself after OnOK / OnError.
  void start() {
    for (auto& slot : slots_) slot->in_step = true;
    Queue();
  }

  void Execute() override {
    try {
      results_ = run_batch_step(*model_, entries_);
    } catch (const std::exception& e) {
      SetError(e.what());
    } catch (...) {
      SetError("unknown native error during a batched step");
    }
  }

  void OnOK() override {
    release();
    Napi::Env env = Env();
    try {
      Napi::Array out = Napi::Array::New(env, results_.size());
      for (size_t i = 0; i < results_.size(); ++i) {
        Napi::Object r = Napi::Object::New(env);
        r.Set("token", results_[i].token);
        r.Set("text", results_[i].text);
        r.Set("endOfGeneration", results_[i].end_of_generation);
        if (results_[i].logprobs) set_logprobs(env, r, *results_[i].logprobs);
        out.Set(static_cast<uint32_t>(i), r);
      }
      deferred_.Resolve(out);
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  void OnError(const Napi::Error& error) override {
    release();
    deferred_.Reject(error.Value());
  }

 private:
  void release() {
    for (auto& slot : slots_) slot->in_step = false;
  }

  Napi::Promise::Deferred deferred_;
  std::shared_ptr<LlamaModel> model_;
  std::vector<std::shared_ptr<SequenceSlot>> slots_;  // JS-thread state (in_step marks)
  std::vector<std::shared_ptr<Sequence>> sequences_;  // kept alive even if a sequence is closed meanwhile
  std::vector<StepEntry> entries_;
  std::vector<StepResult> results_;
};

}  // namespace

Napi::Value ModelObject::step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const LlamaModel& m = open_model(env);
    if (info.Length() < 1 || !info[0].IsArray()) throw_type_error(env, "step(entries): entries must be an array");
    const auto entries = info[0].As<Napi::Array>();
    const Napi::Function sequence_class = env.GetInstanceData<AddonData>()->sequence_constructor.Value();
    auto worker = std::make_unique<StepWorker>(env, handle_->model);
    std::unordered_set<const SequenceSlot*> seen;
    for (uint32_t i = 0; i < entries.Length(); ++i) {
      const std::string name = "entries[" + std::to_string(i) + "]";
      const Napi::Value value = entries.Get(i);
      if (!value.IsObject()) throw_type_error(env, name + " must be an object");
      const auto entry = value.As<Napi::Object>();
      const Napi::Value seq_value = entry.Get("sequence");
      if (!seq_value.IsObject() || !seq_value.As<Napi::Object>().InstanceOf(sequence_class)) {
        throw_type_error(env, name + ".sequence must be a Sequence of this model");
      }
      const SequenceObject* seq_object = SequenceObject::Unwrap(seq_value.As<Napi::Object>());
      const std::shared_ptr<SequenceSlot>& slot = seq_object->slot();
      if (!slot || seq_object->handle() != handle_) {
        throw Napi::Error::New(env, name + ".sequence belongs to a different model");
      }
      if (!slot->seq) throw Napi::Error::New(env, name + ".sequence is closed");
      if (slot->busy) throw Napi::Error::New(env, name + ".sequence is busy generating");
      if (slot->in_step) throw Napi::Error::New(env, name + ".sequence is busy in another batched step");
      if (!seen.insert(slot.get()).second) {
        throw Napi::Error::New(env, name + ".sequence appears more than once in the batch");
      }
      const Napi::Value sample = entry.Get("sample");
      if (!sample.IsBoolean()) throw_type_error(env, name + ".sample must be a boolean");
      std::vector<int32_t> tokens = read_token_ids(env, entry.Get("tokens"), (name + ".tokens").c_str());
      if (tokens.empty()) throw Napi::RangeError::New(env, name + ".tokens must not be empty");
      for (size_t j = 0; j < tokens.size(); ++j) {
        if (tokens[j] < 0 || tokens[j] >= m.n_vocab()) {
          throw Napi::RangeError::New(env, name + ".tokens[" + std::to_string(j) + "] = " + std::to_string(tokens[j]) +
                                               " is out of range (vocabulary has " + std::to_string(m.n_vocab()) +
                                               " tokens)");
        }
      }
      const Sequence& seq = *slot->seq;
      const int64_t used = static_cast<int64_t>(seq.position()) + static_cast<int64_t>(seq.pending().size());
      if (used + static_cast<int64_t>(tokens.size()) > seq.context_size()) {
        throw Napi::RangeError::New(env, name + ": context size " + std::to_string(seq.context_size()) +
                                             " exceeded: " + std::to_string(used) + " tokens in the sequence + " +
                                             std::to_string(tokens.size()) + " new");
      }
      worker->add(slot, std::move(tokens), sample.As<Napi::Boolean>().Value());
    }
    Napi::Promise promise = worker->promise();
    worker.release()->start();
    return promise;
  });
}

}  // namespace sovren::binding
