// The JS `Model` object: info, tokenize/tokenizeSegments/detokenize, createSequence, step (batched, in
// model-step.cpp), embed (model-embed.cpp), close. An encoder (BERT family) has no sequences: only embed.
#pragma once
#include "binding/node-addon-api.h"

#include <memory>

#include "binding/binding-support.h"

namespace sovren::binding {

class ModelObject : public Napi::ObjectWrap<ModelObject> {
 public:
  static Napi::Function define(Napi::Env env);
  // Wraps a freshly loaded model in a new JS object.
  static Napi::Object create(Napi::Env env, std::unique_ptr<LlamaModel> model);
  static Napi::Object create(Napi::Env env, std::unique_ptr<BertModel> encoder);

  explicit ModelObject(const Napi::CallbackInfo& info);

 private:
  LlamaModel& open_model(Napi::Env env) const;           // throws "model is closed", or for an encoder
  const Tokenizer& open_tokenizer(Napi::Env env) const;  // either kind's; throws "model is closed"

  Napi::Value info(const Napi::CallbackInfo& info);
  Napi::Value tokenize(const Napi::CallbackInfo& info);
  Napi::Value tokenize_segments(const Napi::CallbackInfo& info);
  Napi::Value detokenize(const Napi::CallbackInfo& info);
  Napi::Value create_sequence(const Napi::CallbackInfo& info);
  Napi::Value step(const Napi::CallbackInfo& info);
  Napi::Value embed(const Napi::CallbackInfo& info);
  Napi::Value close(const Napi::CallbackInfo& info);
  Napi::Value is_closed(const Napi::CallbackInfo& info);

  std::shared_ptr<ModelHandle> handle_;
};

}  // namespace sovren::binding
