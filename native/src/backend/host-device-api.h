// The CUDA plugin's C ABI (cuda/cuda-plugin-abi.h) implemented on the host: "device memory" is host memory and every
// op is the CPU backend or plain reference code. The device forward pass (model/device-forward.h) runs on it in the
// tests of every machine exactly as it calls libsovren-cuda.so on a GPU. Never chosen by SOVREN_ENGINE_BACKEND.
#pragma once
#include <cstdint>

#include "cuda/cuda-plugin-abi.h"

namespace sovren {

// The table; its create() makes a device without a memory cap on one CPU thread.
const sovren_cuda_api& host_device_api();

// A host device whose ops use n_threads CPU threads (<= 0: one per usable CPU) and whose allocations fail once they
// would exceed memory_cap bytes (0: no cap), so out-of-memory paths are testable. NULL with the reason in err.
sovren_cuda_backend* create_host_device(int n_threads, uint64_t memory_cap, char* err, size_t err_len);

}  // namespace sovren
