// The JS `Sequence` object. generate() runs on its own thread (not the libuv pool, so long generations never
// starve file-system work); tokens, the result and errors travel back through one thread-safe function, which
// keeps them in order: every onToken call happens before the promise settles.
#include "binding/sequence-object.h"

#include <optional>
#include <string>
#include <thread>
#include <variant>

#include "model/generator.h"
#include "tokenizer/tokenizer.h"

namespace sovren::binding {
namespace {

struct TokenEvent {
  int32_t id;
  std::string text;
  std::optional<TokenLogprobs> logprobs;
};
struct DoneEvent {
  GenerationResult result;
};
struct ErrorEvent {
  std::string message;
};
using GenerateEvent = std::variant<TokenEvent, DoneEvent, ErrorEvent>;

struct GenerateJob;
void deliver_event(Napi::Env env, Napi::Function unused, GenerateJob* job, GenerateEvent* event);
using GenerateTsfn = Napi::TypedThreadSafeFunction<GenerateJob, GenerateEvent, deliver_event>;

struct GenerateJob {
  // Touched by the worker thread only (taken on the JS thread before it starts).
  std::shared_ptr<LlamaModel> model;  // declared before seq: released after it
  std::shared_ptr<Sequence> seq;
  std::optional<std::string> prompt_text;
  bool add_special = true;
  bool parse_special = true;
  std::vector<int32_t> prompt_ids;
  GenerationOptions options;

  // Touched on the JS thread only.
  std::shared_ptr<SequenceSlot> slot;  // for the busy mark
  std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
  Napi::Promise::Deferred deferred;
  Napi::FunctionReference on_token;
  std::optional<std::string> callback_error;  // onToken threw: generation is cancelled and the promise rejects

  GenerateTsfn tsfn;
  std::thread thread;

  explicit GenerateJob(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}

  void run() {  // worker thread
    GenerateEvent* final_event = nullptr;
    try {
      if (prompt_text) prompt_ids = model->tokenizer().encode(*prompt_text, add_special, parse_special);
      Generator generator(*model, *seq);
      GenerationResult result = generator.run(
          prompt_ids, options,
          [this](int32_t id, std::string_view text, const TokenLogprobs* logprobs) {
            auto* event = new GenerateEvent(TokenEvent{id, std::string(text), std::nullopt});
            if (logprobs != nullptr) std::get<TokenEvent>(*event).logprobs = *logprobs;
            if (tsfn.NonBlockingCall(event) != napi_ok) delete event;  // only while Node shuts down
          },
          cancel.get());
      final_event = new GenerateEvent(DoneEvent{std::move(result)});
    } catch (const std::exception& e) {
      final_event = new GenerateEvent(ErrorEvent{e.what()});
    } catch (...) {
      final_event = new GenerateEvent(ErrorEvent{"unknown native error during generation"});
    }
    // Free the native state before the JS side hears that generation ended.
    seq.reset();
    model.reset();
    if (tsfn.NonBlockingCall(final_event) != napi_ok) delete final_event;
    tsfn.Release();
  }
};

Napi::Object result_to_js(Napi::Env env, const GenerationResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("ids", to_js_array(env, r.ids));
  o.Set("text", r.text);
  o.Set("finishReason", std::string(finish_reason_name(r.finish_reason)));
  o.Set("promptTokens", r.prompt_tokens);
  o.Set("completionTokens", r.completion_tokens);
  o.Set("promptMs", r.prompt_ms);
  o.Set("generationMs", r.generation_ms);
  return o;
}

void deliver_event(Napi::Env env, Napi::Function, GenerateJob* job, GenerateEvent* event) {
  std::unique_ptr<GenerateEvent> owned(event);
  if (env == nullptr || job == nullptr || !owned) return;  // environment shutting down
  try {
    if (auto* token = std::get_if<TokenEvent>(owned.get())) {
      if (job->on_token.IsEmpty() || job->callback_error) return;
      Napi::Object step = Napi::Object::New(env);
      step.Set("id", token->id);
      step.Set("text", token->text);
      if (token->logprobs) set_logprobs(env, step, *token->logprobs);
      try {
        job->on_token.Call({step});
      } catch (const Napi::Error& e) {
        job->callback_error = "onToken callback threw: " + e.Message();
        job->cancel->store(true);
      }
      return;
    }
    job->slot->busy = false;
    if (job->slot->cancel_flag == job->cancel) job->slot->cancel_flag.reset();
    if (job->callback_error) {
      job->deferred.Reject(Napi::Error::New(env, *job->callback_error).Value());
    } else if (auto* done = std::get_if<DoneEvent>(owned.get())) {
      job->deferred.Resolve(result_to_js(env, done->result));
    } else {
      job->deferred.Reject(Napi::Error::New(env, std::get<ErrorEvent>(*owned).message).Value());
    }
  } catch (const Napi::Error& e) {
    // Building the JS values failed (e.g. out of memory): settle the promise rather than leave it hanging.
    job->slot->busy = false;
    job->deferred.Reject(e.Value());
  }
}

void finalize_job(Napi::Env, void*, GenerateJob* job) {
  job->cancel->store(true);  // on environment teardown the thread may still be running
  if (job->thread.joinable()) job->thread.join();
  delete job;
}

}  // namespace

Napi::Function SequenceObject::define(Napi::Env env) {
  return DefineClass(env, "Sequence",
                     {
                         InstanceMethod<&SequenceObject::evaluate>("evaluate"),
                         InstanceMethod<&SequenceObject::generate>("generate"),
                         InstanceMethod<&SequenceObject::cancel>("cancel"),
                         InstanceMethod<&SequenceObject::reset>("reset"),
                         InstanceMethod<&SequenceObject::set_sampler>("setSampler"),
                         InstanceMethod<&SequenceObject::fork>("fork"),
                         InstanceMethod<&SequenceObject::copy_prefix>("copyPrefix"),
                         InstanceMethod<&SequenceObject::close>("close"),
                         InstanceAccessor<&SequenceObject::position>("position"),
                         InstanceAccessor<&SequenceObject::context_size>("contextSize"),
                         InstanceAccessor<&SequenceObject::is_busy>("busy"),
                         InstanceAccessor<&SequenceObject::cache_bytes>("cacheBytes"),
                     });
}

Napi::Object SequenceObject::create(Napi::Env env, std::shared_ptr<ModelHandle> handle,
                                    std::shared_ptr<SequenceSlot> slot) {
  Napi::Object obj = env.GetInstanceData<AddonData>()->sequence_constructor.New({});
  SequenceObject* self = SequenceObject::Unwrap(obj);
  self->handle_ = std::move(handle);
  self->slot_ = std::move(slot);
  return obj;
}

SequenceObject::SequenceObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SequenceObject>(info) {}

SequenceSlot& SequenceObject::open_slot(Napi::Env env) const {
  if (!handle_ || !slot_) throw Napi::Error::New(env, "Sequence objects are created by model.createSequence()");
  if (!handle_->model) throw Napi::Error::New(env, "model is closed");
  if (!slot_->seq) throw Napi::Error::New(env, "sequence is closed");
  return *slot_;
}

Napi::Value SequenceObject::evaluate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    SequenceSlot& slot = open_slot(env);
    slot.require_idle(env);
    if (info.Length() < 1) throw_type_error(env, "evaluate(ids): ids are required");
    const std::vector<int32_t> ids = read_token_ids(env, info[0], "ids");
    const Napi::Object opts = optional_object(info, 1, "evaluate options");
    const bool all_logits = bool_or(opts, "allLogits", false, "options");
    // Tokens a generation left pending go into the cache first, so evaluate continues the same sequence.
    std::vector<int32_t>& pending = slot.seq->pending();
    if (!pending.empty()) {
      slot.model->forward(*slot.seq, pending.data(), static_cast<int>(pending.size()), false);
      pending.clear();
    }
    const std::span<const float> logits =
        slot.model->forward(*slot.seq, ids.data(), static_cast<int>(ids.size()), all_logits);
    Napi::Float32Array out = Napi::Float32Array::New(env, logits.size());
    std::copy(logits.begin(), logits.end(), out.Data());
    return out;
  });
}

Napi::Value SequenceObject::generate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    SequenceSlot& slot = open_slot(env);
    slot.require_idle(env);

    auto job = std::make_unique<GenerateJob>(env);
    const Napi::Object input = optional_object(info, 0, "generate input");
    const Napi::Value text = input.Get("text");
    const Napi::Value tokens = input.Get("tokens");
    if (text.IsString() == !(tokens.IsUndefined() || tokens.IsNull())) {
      throw_type_error(env, "generate input needs exactly one of text (string) or tokens (token ids)");
    }
    if (text.IsString()) {
      job->prompt_text = text.As<Napi::String>().Utf8Value();
      // Special tokens (BOS) belong at the start of a conversation only.
      job->add_special =
          bool_or(input, "addSpecial", slot.seq->position() == 0 && slot.seq->pending().empty(), "input");
      job->parse_special = bool_or(input, "parseSpecial", true, "input");
    } else {
      job->prompt_ids = read_token_ids(env, tokens, "input.tokens");
      const int n_vocab = slot.model->n_vocab();
      for (int32_t id : job->prompt_ids) {
        if (id < 0 || id >= n_vocab) {
          throw Napi::RangeError::New(env, "input.tokens contains token id " + std::to_string(id) +
                                               ", out of range (vocabulary has " + std::to_string(n_vocab) +
                                               " tokens)");
        }
      }
    }

    const Napi::Object params = optional_object(info, 1, "generation params");
    GenerationOptions& o = job->options;
    o.max_tokens = static_cast<int>(integer_or(params, "maxTokens", o.max_tokens, "params"));
    if (o.max_tokens < 0) throw_type_error(env, "params.maxTokens must not be negative");
    read_sampling_params(params, "params", o.sampling, slot.model->n_vocab());
    const Napi::Value stop = params.Get("stopTokenIds");
    if (!stop.IsUndefined() && !stop.IsNull()) o.stop_ids = read_token_ids(env, stop, "params.stopTokenIds");

    if (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull()) {
      if (!info[2].IsFunction()) throw_type_error(env, "onToken must be a function");
      job->on_token = Napi::Persistent(info[2].As<Napi::Function>());
    }

    job->slot = slot_;
    job->model = slot.model;
    job->seq = slot.seq;
    GenerateJob* raw = job.get();
    raw->tsfn = GenerateTsfn::New(env, "sovren.generate", 0, 1, raw, finalize_job, static_cast<void*>(nullptr));
    Napi::Promise promise = raw->deferred.Promise();
    slot.cancel_flag = raw->cancel;
    slot.busy = true;
    try {
      raw->thread = std::thread([raw] { raw->run(); });
    } catch (const std::system_error& e) {
      slot.busy = false;
      raw->tsfn.Release();  // no thread: the finalizer deletes the job
      job.release();
      throw Napi::Error::New(env, std::string("could not start a generation thread: ") + e.what());
    }
    job.release();  // owned by the thread-safe function's finalizer from here on
    return promise;
  });
}

Napi::Value SequenceObject::cancel(const Napi::CallbackInfo& info) {
  if (slot_) slot_->cancel();  // harmless when idle or closed
  return info.Env().Undefined();
}

Napi::Value SequenceObject::reset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    SequenceSlot& slot = open_slot(env);
    slot.require_idle(env);
    slot.seq->reset();
    return env.Undefined();
  });
}

Napi::Value SequenceObject::set_sampler(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    SequenceSlot& slot = open_slot(env);
    slot.require_idle(env);
    if (info.Length() < 1 || !info[0].IsObject())
      throw_type_error(env, "setSampler(settings): settings must be an object");
    SamplingParams params;
    read_sampling_params(info[0].As<Napi::Object>(), "settings", params, slot.model->n_vocab());
    slot.seq->set_sampling(params);  // throws naming a bad parameter, keeping the previous sampler
    return env.Undefined();
  });
}

Napi::Value SequenceObject::fork(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    SequenceSlot& slot = open_slot(env);
    slot.require_idle(env);
    auto copy = std::make_shared<SequenceSlot>();
    copy->model = slot.model;
    copy->seq = std::shared_ptr<Sequence>(slot.seq->fork());
    std::erase_if(handle_->sequences, [](const std::weak_ptr<SequenceSlot>& w) {
      auto s = w.lock();
      return !s || !s->seq;
    });
    handle_->sequences.push_back(copy);
    return SequenceObject::create(env, handle_, std::move(copy));
  });
}

Napi::Value SequenceObject::copy_prefix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    SequenceSlot& slot = open_slot(env);
    slot.require_idle(env);
    const Napi::Function sequence_class = env.GetInstanceData<AddonData>()->sequence_constructor.Value();
    if (info.Length() < 2 || !info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(sequence_class)) {
      throw_type_error(env, "copyPrefix(source, tokens): source must be a Sequence of this model");
    }
    const SequenceObject* source = SequenceObject::Unwrap(info[0].As<Napi::Object>());
    if (!source->slot_ || source->handle_ != handle_) {
      throw Napi::Error::New(env, "copyPrefix: source belongs to a different model");
    }
    if (!source->slot_->seq) throw Napi::Error::New(env, "copyPrefix: source is closed");
    if (source->slot_->busy) throw Napi::Error::New(env, "copyPrefix: source is busy generating");
    if (source->slot_->in_step) throw Napi::Error::New(env, "copyPrefix: source is busy in a batched step");
    const std::vector<int32_t> tokens = read_token_ids(env, info[1], "tokens");
    const int n_vocab = slot.model->n_vocab();
    for (int32_t id : tokens) {
      if (id < 0 || id >= n_vocab) {
        throw Napi::RangeError::New(env, "copyPrefix: tokens contains token id " + std::to_string(id) +
                                             ", out of range (vocabulary has " + std::to_string(n_vocab) + " tokens)");
      }
    }
    // Throws (changing nothing) when the prefix is longer than the source holds or this sequence can hold.
    slot.seq->copy_prefix_from(*source->slot_->seq, static_cast<int>(tokens.size()));
    // The restored tokens enter the penalty history exactly as a step feeding them would have recorded them.
    Sampler& sampler = slot.seq->sampler();
    for (int32_t id : tokens) sampler.accept(id);
    return env.Undefined();
  });
}

Napi::Value SequenceObject::close(const Napi::CallbackInfo& info) {
  if (slot_) slot_->close();  // a running generation is cancelled and frees its state when it ends
  return info.Env().Undefined();
}

Napi::Value SequenceObject::position(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    SequenceSlot& slot = open_slot(env);
    // pending() belongs to the worker while a generation or step runs; position() alone is safe to read then.
    const size_t pending = slot.busy || slot.in_step ? 0 : slot.seq->pending().size();
    return Napi::Number::New(env, static_cast<double>(slot.seq->position() + pending));
  });
}

Napi::Value SequenceObject::context_size(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value { return Napi::Number::New(env, open_slot(env).seq->context_size()); });
}

Napi::Value SequenceObject::cache_bytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    return Napi::Number::New(env, static_cast<double>(open_slot(env).seq->cache_bytes()));
  });
}

Napi::Value SequenceObject::is_busy(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), slot_ && slot_->busy);
}

}  // namespace sovren::binding
