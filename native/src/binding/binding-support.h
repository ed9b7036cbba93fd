// Shared pieces of the Node binding: the state shared by JS objects and worker threads, the guard that turns
// every C++ exception into a JS Error, and argument readers that name the offending argument.
#pragma once
#include "binding/node-addon-api.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/bert-model.h"
#include "model/llama-model.h"
#include "model/sequence.h"

namespace sovren::binding {

// One sequence's native state. JS objects and in-flight generations hold it by shared_ptr; closing it drops its
// references, and whatever a running generation still holds is freed when that generation ends.
struct SequenceSlot {
  std::shared_ptr<LlamaModel> model;  // declared before seq: destroyed after it
  std::shared_ptr<Sequence> seq;
  // Cancel flag of the generation in flight (each generation has its own, so a late finaliser of a finished one
  // can never cancel the next). Touched on the JS thread only; the flag itself is read by the worker.
  std::shared_ptr<std::atomic<bool>> cancel_flag;
  bool busy = false;     // a generation is in flight (touched on the JS thread only)
  bool in_step = false;  // a batched step that includes this sequence is in flight (JS thread only)

  // Throws unless the sequence may be used or changed now (no generation or step holds it).
  void require_idle(Napi::Env env) const {
    if (busy) throw Napi::Error::New(env, "sequence is busy generating");
    if (in_step) throw Napi::Error::New(env, "sequence is busy in a batched step");
  }

  void cancel() {
    if (cancel_flag) cancel_flag->store(true);
  }
  void close() {
    cancel();
    seq.reset();
    model.reset();
  }
};

// A loaded model as seen from JS: a llama-family decoder (`model`) or a BERT-family encoder (`encoder`), the other
// null; both null once closed. All state here is touched on the JS thread only.
struct ModelHandle {
  std::shared_ptr<LlamaModel> model;
  std::shared_ptr<BertModel> encoder;
  std::vector<std::weak_ptr<SequenceSlot>> sequences;

  bool closed() const { return !model && !encoder; }
  void close() {
    for (auto& weak : sequences) {
      if (auto slot = weak.lock()) slot->close();
    }
    sequences.clear();
    model.reset();
    encoder.reset();
  }
};

// Per-environment data: the constructors used to create Model and Sequence objects from C++.
struct AddonData {
  Napi::FunctionReference model_constructor;
  Napi::FunctionReference sequence_constructor;
};

// Runs `body`, converting any C++ exception into a JS Error carrying its message.
template <typename Body>
auto guarded(Napi::Env env, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  } catch (...) {
    throw Napi::Error::New(env, "unknown native error");
  }
}

[[noreturn]] void throw_type_error(Napi::Env env, const std::string& message);

// Optional members of an options object (undefined / missing -> fallback). Throw a TypeError naming `name`.
Napi::Object optional_object(const Napi::CallbackInfo& info, size_t index, const char* name);
double number_or(const Napi::Object& obj, const char* key, double fallback, const char* owner);
int64_t integer_or(const Napi::Object& obj, const char* key, int64_t fallback, const char* owner);
bool bool_or(const Napi::Object& obj, const char* key, bool fallback, const char* owner);

// The sampling members of a params/settings object (temperature, topK, topP, minP, repeatPenalty, penaltyLastN,
// frequencyPenalty, presencePenalty, seed, logitBias, grammar, logprobs) over the defaults in `params`; TypeErrors
// name `owner`.member; a logitBias id outside 0..n_vocab-1 is a RangeError naming the id.
void read_sampling_params(const Napi::Object& obj, const char* owner, SamplingParams& params, int32_t n_vocab);

// { logprob, topLogprobs: [{ token, logprob }] } members set on `target`.
void set_logprobs(Napi::Env env, Napi::Object& target, const TokenLogprobs& logprobs);

// Token ids from a JS array of integers or an Int32Array / Uint32Array.
std::vector<int32_t> read_token_ids(Napi::Env env, const Napi::Value& value, const char* name);
Napi::Array to_js_array(Napi::Env env, const std::vector<int32_t>& ids);

}  // namespace sovren::binding
