// The JS `Sequence` object: evaluate (logits, for tests), generate on a worker thread with per-token callbacks,
// setSampler (for batched steps), fork (a copy sharing nothing mutable), copyPrefix (a prefix cache's restore),
// cancel, reset, close.
#pragma once
#include "binding/node-addon-api.h"

#include <memory>

#include "binding/binding-support.h"

namespace sovren::binding {

class SequenceObject : public Napi::ObjectWrap<SequenceObject> {
 public:
  static Napi::Function define(Napi::Env env);
  static Napi::Object create(Napi::Env env, std::shared_ptr<ModelHandle> handle, std::shared_ptr<SequenceSlot> slot);

  explicit SequenceObject(const Napi::CallbackInfo& info);

  // For ModelObject::step: the model handle and native state behind a JS Sequence object (null if not created
  // by createSequence()).
  const std::shared_ptr<ModelHandle>& handle() const { return handle_; }
  const std::shared_ptr<SequenceSlot>& slot() const { return slot_; }

 private:
  SequenceSlot& open_slot(Napi::Env env) const;  // throws "model is closed" / "sequence is closed"

  Napi::Value evaluate(const Napi::CallbackInfo& info);
  Napi::Value generate(const Napi::CallbackInfo& info);
  Napi::Value cancel(const Napi::CallbackInfo& info);
  Napi::Value reset(const Napi::CallbackInfo& info);
  Napi::Value set_sampler(const Napi::CallbackInfo& info);
  Napi::Value fork(const Napi::CallbackInfo& info);
  Napi::Value copy_prefix(const Napi::CallbackInfo& info);
  Napi::Value close(const Napi::CallbackInfo& info);
  Napi::Value position(const Napi::CallbackInfo& info);
  Napi::Value context_size(const Napi::CallbackInfo& info);
  Napi::Value is_busy(const Napi::CallbackInfo& info);
  Napi::Value cache_bytes(const Napi::CallbackInfo& info);

  std::shared_ptr<ModelHandle> handle_;
  std::shared_ptr<SequenceSlot> slot_;
};

}  // namespace sovren::binding
