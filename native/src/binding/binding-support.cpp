// Argument readers for the Node binding: every bad argument is a TypeError that names it.
#include "binding/binding-support.h"

#include <cmath>
#include <cstdlib>
#include <limits>

namespace sovren::binding {

void throw_type_error(Napi::Env env, const std::string& message) { throw Napi::TypeError::New(env, message); }

Napi::Object optional_object(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || info[index].IsUndefined() || info[index].IsNull()) {
    return Napi::Object::New(info.Env());
  }
  if (!info[index].IsObject()) throw_type_error(info.Env(), std::string(name) + " must be an object");
  return info[index].As<Napi::Object>();
}

double number_or(const Napi::Object& obj, const char* key, double fallback, const char* owner) {
  const Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw_type_error(obj.Env(), std::string(owner) + "." + key + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw_type_error(obj.Env(), std::string(owner) + "." + key + " must be finite");
  return d;
}

int64_t integer_or(const Napi::Object& obj, const char* key, int64_t fallback, const char* owner) {
  const Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  const double d = number_or(obj, key, 0.0, owner);
  if (d != std::floor(d) || std::fabs(d) > 9007199254740991.0) {
    throw_type_error(obj.Env(), std::string(owner) + "." + key + " must be an integer");
  }
  return static_cast<int64_t>(d);
}

bool bool_or(const Napi::Object& obj, const char* key, bool fallback, const char* owner) {
  const Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsBoolean()) throw_type_error(obj.Env(), std::string(owner) + "." + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

void read_sampling_params(const Napi::Object& obj, const char* owner, SamplingParams& s, int32_t n_vocab) {
  s.temperature = static_cast<float>(number_or(obj, "temperature", s.temperature, owner));
  s.top_k = static_cast<int>(integer_or(obj, "topK", s.top_k, owner));
  s.top_p = static_cast<float>(number_or(obj, "topP", s.top_p, owner));
  s.min_p = static_cast<float>(number_or(obj, "minP", s.min_p, owner));
  s.repeat_penalty = static_cast<float>(number_or(obj, "repeatPenalty", s.repeat_penalty, owner));
  s.penalty_last_n = static_cast<int>(integer_or(obj, "penaltyLastN", s.penalty_last_n, owner));
  s.frequency_penalty = static_cast<float>(number_or(obj, "frequencyPenalty", s.frequency_penalty, owner));
  s.presence_penalty = static_cast<float>(number_or(obj, "presencePenalty", s.presence_penalty, owner));
  const int64_t seed = integer_or(obj, "seed", static_cast<int64_t>(s.seed), owner);
  if (seed < 0) throw_type_error(obj.Env(), std::string(owner) + ".seed must not be negative");
  s.seed = static_cast<decltype(s.seed)>(seed);
  Napi::Env env = obj.Env();
  const std::string prefix(owner);

  const Napi::Value bias = obj.Get("logitBias");
  if (!bias.IsUndefined() && !bias.IsNull()) {
    if (!bias.IsObject() || bias.IsArray()) {
      throw_type_error(env, prefix + ".logitBias must be an object mapping token ids to numbers");
    }
    const Napi::Object map = bias.As<Napi::Object>();
    const Napi::Array keys = map.GetPropertyNames();
    s.logit_bias.clear();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      const std::string key = keys.Get(i).ToString().Utf8Value();
      char* end = nullptr;
      const long long id = std::strtoll(key.c_str(), &end, 10);
      if (key.empty() || end == nullptr || *end != '\0' || id < 0 || id >= n_vocab) {
        throw Napi::RangeError::New(env, prefix + ".logitBias: token id " + key + " is out of range (vocabulary has " +
                                             std::to_string(n_vocab) + " tokens)");
      }
      const Napi::Value value = map.Get(key);
      if (!value.IsNumber() || !std::isfinite(value.As<Napi::Number>().DoubleValue())) {
        throw_type_error(env, prefix + ".logitBias[" + key + "] must be a finite number");
      }
      s.logit_bias.emplace_back(static_cast<int32_t>(id), value.As<Napi::Number>().FloatValue());
    }
  }

  const Napi::Value grammar = obj.Get("grammar");
  if (!grammar.IsUndefined() && !grammar.IsNull()) {
    if (!grammar.IsString()) throw_type_error(env, prefix + ".grammar must be a string (GBNF)");
    s.grammar = grammar.As<Napi::String>().Utf8Value();
  }

  const int64_t logprobs = integer_or(obj, "logprobs", s.logprobs, owner);
  if (!obj.Get("logprobs").IsUndefined() && !obj.Get("logprobs").IsNull() &&
      (logprobs < 0 || logprobs > SamplingParams::kMaxTopLogprobs)) {
    throw Napi::RangeError::New(env, prefix + ".logprobs must be in 0.." +
                                         std::to_string(SamplingParams::kMaxTopLogprobs) + ", got " +
                                         std::to_string(logprobs));
  }
  s.logprobs = static_cast<int32_t>(logprobs);
}

void set_logprobs(Napi::Env env, Napi::Object& target, const TokenLogprobs& logprobs) {
  target.Set("logprob", Napi::Number::New(env, logprobs.logprob));
  Napi::Array top = Napi::Array::New(env, logprobs.top.size());
  for (size_t i = 0; i < logprobs.top.size(); ++i) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("token", logprobs.top[i].token);
    entry.Set("logprob", Napi::Number::New(env, logprobs.top[i].logprob));
    top.Set(static_cast<uint32_t>(i), entry);
  }
  target.Set("topLogprobs", top);
}

std::vector<int32_t> read_token_ids(Napi::Env env, const Napi::Value& value, const char* name) {
  std::vector<int32_t> ids;
  if (value.IsTypedArray()) {
    const auto typed = value.As<Napi::TypedArray>();
    if (typed.TypedArrayType() == napi_int32_array) {
      const auto a = value.As<Napi::Int32Array>();
      ids.assign(a.Data(), a.Data() + a.ElementLength());
      return ids;
    }
    if (typed.TypedArrayType() == napi_uint32_array) {
      const auto a = value.As<Napi::Uint32Array>();
      ids.reserve(a.ElementLength());
      for (size_t i = 0; i < a.ElementLength(); ++i) {
        if (a[i] > static_cast<uint32_t>(std::numeric_limits<int32_t>::max())) {
          throw_type_error(env, std::string(name) + "[" + std::to_string(i) + "] is not a valid token id");
        }
        ids.push_back(static_cast<int32_t>(a[i]));
      }
      return ids;
    }
  }
  if (!value.IsArray()) {
    throw_type_error(env, std::string(name) + " must be an array of token ids, an Int32Array or a Uint32Array");
  }
  const auto arr = value.As<Napi::Array>();
  ids.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    const Napi::Value v = arr.Get(i);
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1.5;
    if (!v.IsNumber() || d != std::floor(d) || d < std::numeric_limits<int32_t>::min() ||
        d > std::numeric_limits<int32_t>::max()) {
      throw_type_error(env, std::string(name) + "[" + std::to_string(i) + "] is not an integer token id");
    }
    ids.push_back(static_cast<int32_t>(d));
  }
  return ids;
}

Napi::Array to_js_array(Napi::Env env, const std::vector<int32_t>& ids) {
  Napi::Array arr = Napi::Array::New(env, ids.size());
  for (size_t i = 0; i < ids.size(); ++i) arr.Set(static_cast<uint32_t>(i), Napi::Number::New(env, ids[i]));
  return arr;
}

}  // namespace sovren::binding
