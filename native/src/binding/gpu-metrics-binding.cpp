// gpuMetrics() -> Promise<{ available: true, gpus: [...] } | { available: false, reason }>; see
// nvml/nvml-reader.h. Values NVML cannot report are left out of a GPU's object rather than set to 0.
#include "binding/gpu-metrics-binding.h"

#include "binding/binding-support.h"
#include "nvml/nvml-reader.h"

namespace sovren::binding {
namespace {

Napi::Object to_js(Napi::Env env, const nvml::GpuReading& gpu) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("index", Napi::Number::New(env, gpu.index));
  out.Set("name", Napi::String::New(env, gpu.name));
  out.Set("uuid", Napi::String::New(env, gpu.uuid));
  // Byte and error counts can pass 2^53 only in theory (8 PiB); a double keeps them exact below that.
  const auto set_number = [&](const char* key, const auto& value) {
    if (value.has_value()) out.Set(key, Napi::Number::New(env, static_cast<double>(*value)));
  };
  set_number("utilizationPercent", gpu.utilization_percent);
  set_number("memoryUsedBytes", gpu.memory_used_bytes);
  set_number("memoryTotalBytes", gpu.memory_total_bytes);
  set_number("temperatureCelsius", gpu.temperature_celsius);
  set_number("powerWatts", gpu.power_watts);
  set_number("eccCorrectedErrors", gpu.ecc_corrected);
  set_number("eccUncorrectedErrors", gpu.ecc_uncorrected);
  if (gpu.error.has_value()) out.Set("error", Napi::String::New(env, *gpu.error));
  return out;
}

class GpuMetricsWorker : public Napi::AsyncWorker {
 public:
  explicit GpuMetricsWorker(Napi::Env env)
      : Napi::AsyncWorker(env, "sovren.gpuMetrics"), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      result_ = nvml::query_gpus();
    } catch (const std::exception& e) {
      SetError(std::string("NVML query failed: ") + e.what());
    } catch (...) {
      SetError("NVML query failed: unknown native error");
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("available", Napi::Boolean::New(env, result_.available));
    if (result_.available) {
      Napi::Array gpus = Napi::Array::New(env, result_.gpus.size());
      for (size_t i = 0; i < result_.gpus.size(); ++i) gpus.Set(static_cast<uint32_t>(i), to_js(env, result_.gpus[i]));
      out.Set("gpus", gpus);
    } else {
      out.Set("reason", Napi::String::New(env, result_.reason));
    }
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  nvml::GpuQuery result_;
};

}  // namespace

Napi::Value gpu_metrics(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto* worker = new GpuMetricsWorker(env);
    Napi::Promise promise = worker->promise();
    worker->Queue();  // the worker deletes itself after OnOK / OnError
    return promise;
  });
}

}  // namespace sovren::binding
