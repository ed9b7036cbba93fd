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

// The device forward pass is not wired into the model yet (issue 20): until it is, auto resolves to the CPU and an
// explicit cuda request fails with the reason (no plugin, no GPU, or the missing forward pass), never a crash.
// *reason says why the CPU was chosen.
BackendKind choose_backend(BackendRequest request, std::string* reason);

// The backend a model loads with: `request` ("cpu" | "cuda" | "auto"; empty: SOVREN_ENGINE_BACKEND, read now), then
// choose_backend (throws EngineError).
std::unique_ptr<Backend> make_selected_backend(int n_threads, const std::string& request);

}  // namespace sovren
