// The JS `Model` object. Every entry point runs inside guarded() so no C++ exception reaches Node-API.
#include "binding/model-object.h"

#include "binding/sequence-object.h"

#include <map>
#include <string>
#include "tokenizer/tokenizer.h"

namespace sovren::binding {

Napi::Function ModelObject::define(Napi::Env env) {
  return DefineClass(env, "Model",
                     {
                         InstanceMethod<&ModelObject::info>("info"),
                         InstanceMethod<&ModelObject::tokenize>("tokenize"),
                         InstanceMethod<&ModelObject::tokenize_segments>("tokenizeSegments"),
                         InstanceMethod<&ModelObject::detokenize>("detokenize"),
                         InstanceMethod<&ModelObject::create_sequence>("createSequence"),
                         InstanceMethod<&ModelObject::step>("step"),
                         InstanceMethod<&ModelObject::embed>("embed"),
                         InstanceMethod<&ModelObject::close>("close"),
                         InstanceAccessor<&ModelObject::is_closed>("closed"),
                     });
}

Napi::Object ModelObject::create(Napi::Env env, std::unique_ptr<LlamaModel> model) {
  Napi::Object obj = env.GetInstanceData<AddonData>()->model_constructor.New({});
  auto handle = std::make_shared<ModelHandle>();
  handle->model = std::shared_ptr<LlamaModel>(std::move(model));
  ModelObject::Unwrap(obj)->handle_ = std::move(handle);
  return obj;
}

Napi::Object ModelObject::create(Napi::Env env, std::unique_ptr<BertModel> encoder) {
  Napi::Object obj = env.GetInstanceData<AddonData>()->model_constructor.New({});
  auto handle = std::make_shared<ModelHandle>();
  handle->encoder = std::shared_ptr<BertModel>(std::move(encoder));
  ModelObject::Unwrap(obj)->handle_ = std::move(handle);
  return obj;
}

ModelObject::ModelObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelObject>(info) {}

LlamaModel& ModelObject::open_model(Napi::Env env) const {
  if (!handle_) throw Napi::Error::New(env, "Model objects are created by loadModel()");
  if (handle_->encoder) {
    throw Napi::Error::New(env, "model is an embedding model (" + handle_->encoder->hparams().arch +
                                    "): it has no sequences and generates no text; use embed()");
  }
  if (!handle_->model) throw Napi::Error::New(env, "model is closed");
  return *handle_->model;
}

const Tokenizer& ModelObject::open_tokenizer(Napi::Env env) const {
  if (handle_ && handle_->encoder) return handle_->encoder->tokenizer();
  return open_model(env).tokenizer();
}

namespace {

// The members both kinds of model share, from whichever model M is.
template <typename M>
void set_common_info(Napi::Env env, Napi::Object& o, const M& m) {
  o.Set("name", m.name());
  o.Set("fileBytes", Napi::Number::New(env, static_cast<double>(m.gguf().file_size())));
  o.Set("contextSize", m.context_size());
  o.Set("vocabSize", m.n_vocab());
  o.Set("tokenizerModel", m.tokenizer_model());
  o.Set("backend", m.backend_name());
  o.Set("threads", m.n_threads());

  const SpecialTokens& st = m.special_tokens();
  Napi::Object special = Napi::Object::New(env);
  auto id_or_null = [&](int32_t id) -> Napi::Value {
    return id < 0 ? env.Null() : Napi::Number::New(env, id).As<Napi::Value>();
  };
  special.Set("bos", id_or_null(st.bos));
  special.Set("eos", id_or_null(st.eos));
  special.Set("unk", id_or_null(st.unk));
  special.Set("pad", id_or_null(st.pad));
  special.Set("eot", id_or_null(st.eot));
  special.Set("eog", to_js_array(env, st.eog));
  special.Set("addBos", st.add_bos);
  special.Set("addEos", st.add_eos);
  o.Set("specialTokens", special);
}

void set_tensor_info(Napi::Env env, Napi::Object& o, uint64_t parameters, uint64_t bytes,
                     const std::map<std::string, TensorTypeCount>& by_type) {
  o.Set("parameterCount", Napi::Number::New(env, static_cast<double>(parameters)));
  o.Set("weightBytes", Napi::Number::New(env, static_cast<double>(bytes)));
  Napi::Object types = Napi::Object::New(env);
  for (const auto& [name, count] : by_type) {
    Napi::Object c = Napi::Object::New(env);
    c.Set("tensors", Napi::Number::New(env, static_cast<double>(count.tensors)));
    c.Set("elements", Napi::Number::New(env, static_cast<double>(count.elements)));
    types.Set(name, c);
  }
  o.Set("tensorTypes", types);
}

Napi::Object encoder_info(Napi::Env env, const BertModel& m) {
  const BertHparams& hp = m.hparams();
  Napi::Object o = Napi::Object::New(env);
  set_common_info(env, o, m);
  const TensorTotals& totals = m.tensor_totals();
  set_tensor_info(env, o, totals.parameters, totals.bytes, totals.by_type);
  o.Set("architecture", hp.arch);
  o.Set("kind", "embedding");
  o.Set("pooling", std::string(pooling_name(hp.pooling)));
  o.Set("trainingContextSize", hp.n_ctx_train);
  o.Set("embeddingLength", hp.n_embd);
  o.Set("blockCount", hp.n_layer);
  o.Set("feedForwardLength", hp.n_ff);
  o.Set("headCount", hp.n_head);
  o.Set("headCountKv", hp.n_head);
  o.Set("headDim", hp.head_dim);
  o.Set("ropeDimensionCount", hp.rope ? hp.head_dim : 0);
  o.Set("ropeFreqBase", hp.rope_freq_base);
  o.Set("ropeFreqScale", 1.0);
  o.Set("rmsEpsilon", hp.norm_eps);  // the LayerNorm epsilon: encoders have no RMS norm
  o.Set("chatTemplate", env.Null());
  o.Set("weights", "mmap");  // encoders read their (small) weights in place
  o.Set("weightCopyBytes", 0);
  o.Set("deviceBytes", 0);  // encoders run on the CPU
  return o;
}

}  // namespace

Napi::Value ModelObject::info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (handle_ && handle_->encoder) return encoder_info(env, *handle_->encoder);
    const LlamaModel& m = open_model(env);
    const LlamaHparams& hp = m.hparams();
    Napi::Object o = Napi::Object::New(env);
    set_common_info(env, o, m);
    set_tensor_info(env, o, m.parameter_count(), m.weight_bytes(), m.tensor_types());
    o.Set("architecture", hp.arch);
    o.Set("kind", "text");
    o.Set("pooling", "last");
    o.Set("trainingContextSize", hp.n_ctx_train);
    o.Set("embeddingLength", hp.n_embd);
    o.Set("blockCount", hp.n_layer);
    o.Set("feedForwardLength", hp.n_ff);
    o.Set("headCount", hp.n_head);
    o.Set("headCountKv", hp.n_head_kv);
    o.Set("headDim", hp.head_dim);
    o.Set("ropeDimensionCount", hp.n_rot);
    o.Set("ropeFreqBase", hp.rope_freq_base);
    o.Set("ropeFreqScale", hp.rope_freq_scale);
    o.Set("rmsEpsilon", hp.rms_eps);
    o.Set("chatTemplate", m.chat_template().empty() ? env.Null() : Napi::String::New(env, m.chat_template()));
    o.Set("weights", m.weight_storage() == WeightStorage::Copy ? "copy" : "mmap");
    o.Set("weightCopyBytes", Napi::Number::New(env, static_cast<double>(m.weight_copy_bytes())));
    o.Set("deviceBytes", Napi::Number::New(env, static_cast<double>(m.device_bytes())));
    return o;
  });
}

Napi::Value ModelObject::tokenize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const Tokenizer& tokenizer = open_tokenizer(env);
    if (info.Length() < 1 || !info[0].IsString()) throw_type_error(env, "tokenize(text): text must be a string");
    const std::string text = info[0].As<Napi::String>().Utf8Value();
    const Napi::Object opts = optional_object(info, 1, "tokenize options");
    const bool add_special = bool_or(opts, "addSpecial", true, "options");
    const bool parse_special = bool_or(opts, "parseSpecial", false, "options");
    return to_js_array(env, tokenizer.encode(text, add_special, parse_special));
  });
}

Napi::Value ModelObject::tokenize_segments(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const Tokenizer& tokenizer = open_tokenizer(env);
    if (info.Length() < 1 || !info[0].IsArray()) {
      throw_type_error(env, "tokenizeSegments(segments): segments must be an array of { text, parseSpecial }");
    }
    const Napi::Array array = info[0].As<Napi::Array>();
    std::vector<std::string> texts(array.Length());
    std::vector<Tokenizer::Segment> segments(array.Length());
    for (uint32_t i = 0; i < array.Length(); ++i) {
      const Napi::Value item = array.Get(i);
      const std::string name = "segments[" + std::to_string(i) + "]";
      if (!item.IsObject()) throw_type_error(env, name + " must be an object");
      const Napi::Object segment = item.As<Napi::Object>();
      if (!segment.Get("text").IsString()) throw_type_error(env, name + ".text must be a string");
      texts[i] = segment.Get("text").As<Napi::String>().Utf8Value();
      segments[i].parse_special = bool_or(segment, "parseSpecial", false, name.c_str());
    }
    for (size_t i = 0; i < texts.size(); ++i) segments[i].text = texts[i];
    const Napi::Object opts = optional_object(info, 1, "tokenize options");
    const bool add_special = bool_or(opts, "addSpecial", true, "options");
    return to_js_array(env, tokenizer.encode_segments(segments, add_special));
  });
}

Napi::Value ModelObject::detokenize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const Tokenizer& tokenizer = open_tokenizer(env);
    if (info.Length() < 1) throw_type_error(env, "detokenize(ids): ids are required");
    const std::vector<int32_t> ids = read_token_ids(env, info[0], "ids");
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= tokenizer.n_vocab()) {
        throw Napi::RangeError::New(env, "token id " + std::to_string(ids[i]) + " at index " + std::to_string(i) +
                                             " is out of range (vocabulary has " + std::to_string(tokenizer.n_vocab()) +
                                             " tokens)");
      }
    }
    const Napi::Object opts = optional_object(info, 1, "detokenize options");
    const bool render_special = bool_or(opts, "renderSpecial", false, "options");
    return Napi::String::New(env, tokenizer.decode(ids, render_special));
  });
}

Napi::Value ModelObject::create_sequence(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const LlamaModel& m = open_model(env);
    const Napi::Object opts = optional_object(info, 0, "createSequence options");
    const int64_t context = integer_or(opts, "contextSize", 0, "options");
    if (!opts.Get("contextSize").IsUndefined() && (context < 1 || context > m.context_size())) {
      throw Napi::RangeError::New(env, "options.contextSize must be in 1.." + std::to_string(m.context_size()) +
                                           " (the model's context size), got " + std::to_string(context));
    }
    auto slot = std::make_shared<SequenceSlot>();
    slot->model = handle_->model;
    slot->seq = std::make_shared<Sequence>(*slot->model, static_cast<int>(context));
    // Forget sequences that were closed or collected, so the list does not grow with churn.
    std::erase_if(handle_->sequences, [](const std::weak_ptr<SequenceSlot>& w) {
      auto s = w.lock();
      return !s || !s->seq;
    });
    handle_->sequences.push_back(slot);
    return SequenceObject::create(env, handle_, std::move(slot));
  });
}

Napi::Value ModelObject::close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (handle_) handle_->close();  // closing twice is harmless
    return env.Undefined();
  });
}

Napi::Value ModelObject::is_closed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !handle_ || handle_->closed());
}

}  // namespace sovren::binding
