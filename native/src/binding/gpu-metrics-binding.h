// gpuMetrics(): NVML readings of every GPU, queried on a worker thread (the first call initialises NVML, which
// can take a while with the driver's persistence mode off).
#pragma once
#include "binding/node-addon-api.h"

namespace sovren::binding {

Napi::Value gpu_metrics(const Napi::CallbackInfo& info);

}  // namespace sovren::binding
