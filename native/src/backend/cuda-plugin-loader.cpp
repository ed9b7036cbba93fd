// dlopen() of the CUDA backend plugin and the SOVREN_ENGINE_BACKEND choice (see cuda-plugin-loader.h).
#include "backend/cuda-plugin-loader.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace sovren {

std::shared_ptr<CudaPlugin> CudaPlugin::load_from(const std::string& path, std::string* why) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = dlerror();
    *why = "cannot open " + path + ": " + (err != nullptr ? err : "unknown error");
    return nullptr;
  }
  auto entry = reinterpret_cast<sovren_cuda_plugin_api_fn>(dlsym(handle, SOVREN_CUDA_PLUGIN_SYMBOL));
  const sovren_cuda_api* api = entry != nullptr ? entry() : nullptr;
  if (api == nullptr || api->abi_version != SOVREN_CUDA_ABI_VERSION) {
    *why = path + " is not a CUDA plugin of ABI version " + std::to_string(SOVREN_CUDA_ABI_VERSION) +
           (api != nullptr ? " (it has version " + std::to_string(api->abi_version) + ")" : "");
    dlclose(handle);
    return nullptr;
  }
  return std::shared_ptr<CudaPlugin>(new CudaPlugin(handle, api));
}

std::shared_ptr<CudaPlugin> CudaPlugin::load(std::string* why) {
  std::string reasons;
  const char* env = std::getenv("SOVREN_CUDA_PLUGIN");
  std::string candidates[3];
  int n = 0;
  if (env != nullptr && *env != '\0') candidates[n++] = env;
  candidates[n++] = "libsovren-cuda.so";
#ifdef SOVREN_CUDA_PLUGIN_BUILD_PATH
  candidates[n++] = SOVREN_CUDA_PLUGIN_BUILD_PATH;
#endif
  for (int i = 0; i < n; ++i) {
    std::string reason;
    if (auto plugin = load_from(candidates[i], &reason)) return plugin;
    reasons += (reasons.empty() ? "" : "; ") + reason;
  }
  *why = reasons;
  return nullptr;
}

CudaPlugin::~CudaPlugin() { dlclose(handle_); }

BackendRequest parse_backend_request(const char* value) {
  if (value == nullptr || *value == '\0' || std::strcmp(value, "auto") == 0) return BackendRequest::Auto;
  if (std::strcmp(value, "cpu") == 0) return BackendRequest::Cpu;
  if (std::strcmp(value, "cuda") == 0) return BackendRequest::Cuda;
  throw EngineError(std::string("SOVREN_ENGINE_BACKEND (or options.backend) must be cpu, cuda or auto, not '") + value +
                    "'");
}

const char* backend_kind_name(BackendKind kind) { return kind == BackendKind::Cuda ? "cuda" : "cpu"; }

BackendRequest backend_request(const std::string& request) {
  return parse_backend_request(request.empty() ? std::getenv("SOVREN_ENGINE_BACKEND") : request.c_str());
}

BackendKind choose_backend(BackendRequest request, std::string* reason) {
  if (request == BackendRequest::Cpu) {
    *reason = "SOVREN_ENGINE_BACKEND=cpu";
    return BackendKind::Cpu;
  }
  if (request == BackendRequest::Auto) {  // no probe: initialising CUDA costs time and memory auto will not use
    *reason = "auto: the CUDA forward pass is chosen only with SOVREN_ENGINE_BACKEND=cuda until verified on a GPU";
    return BackendKind::Cpu;
  }
  std::string why;
  const auto plugin = CudaPlugin::load(&why);
  if (plugin == nullptr)
    throw EngineError("SOVREN_ENGINE_BACKEND=cuda: the CUDA plugin is not available (" + why + ")");
  if (plugin->device_count() <= 0) throw EngineError("SOVREN_ENGINE_BACKEND=cuda: no CUDA device is visible");
  *reason = "SOVREN_ENGINE_BACKEND=cuda";
  return BackendKind::Cuda;
}

std::unique_ptr<Backend> make_selected_backend(int n_threads, const std::string& request) {
  std::string reason;
  choose_backend(backend_request(request), &reason);
  return make_cpu_backend(n_threads);
}

}  // namespace sovren
