// Finds and opens libsovren-cuda.so (the CUDA backend, src/cuda/) at run time, and chooses each model's backend from
// SOVREN_ENGINE_BACKEND (cpu | cuda | auto). The addon never links the CUDA runtime: without the plugin or a GPU it
// runs on the CPU, or reports why when cuda was asked for.
#pragma once
#include <memory>
#include <string>

#include "backend/backend.h"
#include "cuda/cuda-plugin-abi.h"

namespace sovren {

// An opened plugin (dlclose on destruction) and its API table, checked for SOVREN_CUDA_ABI_VERSION.
class CudaPlugin {
 public:
  // Tries SOVREN_CUDA_PLUGIN (a path), then "libsovren-cuda.so" on the library path, then the build's own output.
  // Returns nullptr with the reason of every attempt in *why.
  static std::shared_ptr<CudaPlugin> load(std::string* why);
  // Opens exactly this path (tests); nullptr with the reason in *why.
  static std::shared_ptr<CudaPlugin> load_from(const std::string& path, std::string* why);
  ~CudaPlugin();
  CudaPlugin(const CudaPlugin&) = delete;
  CudaPlugin& operator=(const CudaPlugin&) = delete;

  const sovren_cuda_api& api() const { return *api_; }
  int device_count() const { return api_->device_count(); }

 private:
  CudaPlugin(void* handle, const sovren_cuda_api* api) : handle_(handle), api_(api) {}
  void* handle_;
  const sovren_cuda_api* api_;
};

enum class BackendKind { Cpu, Cuda };
enum class BackendRequest { Cpu, Cuda, Auto };

// "cpu" | "cuda" | "auto" (empty or unset: auto); throws EngineError naming SOVREN_ENGINE_BACKEND otherwise.
BackendRequest parse_backend_request(const char* value);
const char* backend_kind_name(BackendKind kind);

// `request` ("cpu" | "cuda" | "auto"), or SOVREN_ENGINE_BACKEND (read now) when it is empty.
BackendRequest backend_request(const std::string& request);

// cuda: the plugin loads and sees a GPU (else EngineError with the reason: no plugin or no GPU, never a crash).
// auto: the CPU until the device forward pass (model/device-forward.h) has passed tools/gpu-check.sh on a GPU; cuda
// must be asked for explicitly. *reason says why the backend was chosen.
BackendKind choose_backend(BackendRequest request, std::string* reason);

// The backend of a model without a device forward pass (BERT encoders, Whisper): the CPU, after choose_backend has
// checked the request (throws EngineError). Only llama-family models run on the GPU so far.
std::unique_ptr<Backend> make_selected_backend(int n_threads, const std::string& request);

}  // namespace sovren
