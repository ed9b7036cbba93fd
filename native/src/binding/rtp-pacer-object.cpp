// new RtpPacer(); pacer.open(fd, address, port) -> id; setTarget(id, address, port); enqueue(id, dueMs, bytes);
// flush(id) -> dropped; close(id); realtime() -> bool; stats(id) -> {sent, sendErrors, queued, latenessP99Ms,
// latenessMaxMs, lastErrno}; RtpPacer.nowMs(). Every C++ error becomes a JS Error naming the bad argument.
#include "binding/rtp-pacer-object.h"

#include <memory>

#include "binding/binding-support.h"
#include "media/rtp-pacer.h"

namespace sovren::binding {
namespace {

class RtpPacerObject : public Napi::ObjectWrap<RtpPacerObject> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "RtpPacer",
                       {
                           InstanceMethod<&RtpPacerObject::open>("open"),
                           InstanceMethod<&RtpPacerObject::set_target>("setTarget"),
                           InstanceMethod<&RtpPacerObject::enqueue>("enqueue"),
                           InstanceMethod<&RtpPacerObject::flush>("flush"),
                           InstanceMethod<&RtpPacerObject::close>("close"),
                           InstanceMethod<&RtpPacerObject::stats>("stats"),
                           InstanceMethod<&RtpPacerObject::realtime>("realtime"),
                           StaticMethod<&RtpPacerObject::now_ms>("nowMs"),
                       });
  }

  explicit RtpPacerObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RtpPacerObject>(info) {
    guarded(info.Env(), [&] { pacer_ = std::make_unique<media::RtpPacer>(); });
  }

 private:
  static uint32_t stream_id(const Napi::CallbackInfo& info, const char* method) {
    if (info.Length() < 1 || !info[0].IsNumber())
      throw_type_error(info.Env(), std::string(method) + "(id): id must be a number");
    const double id = info[0].As<Napi::Number>().DoubleValue();
    if (!(id >= 1 && id <= 4294967295.0) || id != static_cast<double>(static_cast<uint32_t>(id))) {
      throw_type_error(info.Env(), std::string(method) + ": id must be a stream id from open()");
    }
    return static_cast<uint32_t>(id);
  }

  static std::pair<std::string, int> target(const Napi::CallbackInfo& info, size_t at, const char* method) {
    if (info.Length() < at + 2 || !info[at].IsString() || !info[at + 1].IsNumber()) {
      throw_type_error(info.Env(), std::string(method) + ": address must be a string and port a number");
    }
    return {info[at].As<Napi::String>().Utf8Value(), info[at + 1].As<Napi::Number>().Int32Value()};
  }

  Napi::Value open(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      if (info.Length() < 1 || !info[0].IsNumber())
        throw_type_error(info.Env(), "open(fd, address, port): fd must be a number");
      const auto [address, port] = target(info, 1, "open");
      return Napi::Number::New(info.Env(), pacer_->open(info[0].As<Napi::Number>().Int32Value(), address, port));
    });
  }

  Napi::Value set_target(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const uint32_t id = stream_id(info, "setTarget");
      const auto [address, port] = target(info, 1, "setTarget");
      pacer_->set_target(id, address, port);
      return info.Env().Undefined();
    });
  }

  Napi::Value enqueue(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const uint32_t id = stream_id(info, "enqueue");
      if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsTypedArray() ||
          info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
        throw_type_error(info.Env(), "enqueue(id, dueMs, bytes): dueMs must be a number and bytes a Uint8Array");
      }
      const auto bytes = info[2].As<Napi::Uint8Array>();
      pacer_->enqueue(id, info[1].As<Napi::Number>().DoubleValue(), bytes.Data(), bytes.ByteLength());
      return info.Env().Undefined();
    });
  }

  Napi::Value flush(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      return Napi::Number::New(info.Env(), static_cast<double>(pacer_->flush(stream_id(info, "flush"))));
    });
  }

  Napi::Value close(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      pacer_->close(stream_id(info, "close"));
      return info.Env().Undefined();
    });
  }

  Napi::Value stats(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const media::PacerStreamStats s = pacer_->stats(stream_id(info, "stats"));
      Napi::Object out = Napi::Object::New(info.Env());
      out.Set("sent", Napi::Number::New(info.Env(), static_cast<double>(s.sent)));
      out.Set("sendErrors", Napi::Number::New(info.Env(), static_cast<double>(s.send_errors)));
      out.Set("queued", Napi::Number::New(info.Env(), static_cast<double>(s.queued)));
      out.Set("latenessP99Ms", Napi::Number::New(info.Env(), s.lateness_p99_ms));
      out.Set("latenessMaxMs", Napi::Number::New(info.Env(), s.lateness_max_ms));
      out.Set("lastErrno", Napi::Number::New(info.Env(), s.last_errno));
      return out;
    });
  }

  Napi::Value realtime(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), pacer_->realtime()); }

  static Napi::Value now_ms(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), media::RtpPacer::now_ms());
  }

  std::unique_ptr<media::RtpPacer> pacer_;
};

}  // namespace

void register_rtp_pacer(Napi::Env env, Napi::Object exports) { exports.Set("RtpPacer", RtpPacerObject::define(env)); }

}  // namespace sovren::binding
