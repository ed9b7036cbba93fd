// NVML bound with dlopen/dlsym; see nvml-reader.h.
#include "nvml/nvml-reader.h"

#include <dlfcn.h>

#include <cstdlib>

namespace sovren::nvml {
namespace {

template <typename Fn>
bool resolve(void* handle, const char* symbol, Fn& out, std::string& missing) {
  out = reinterpret_cast<Fn>(dlsym(handle, symbol));
  if (out == nullptr && missing.empty()) missing = symbol;
  return out != nullptr;
}

// NVML fills fixed-size char buffers; never trust them to be terminated.
std::string bounded_string(const char* buffer, size_t size) {
  size_t length = 0;
  while (length < size && buffer[length] != '\0') ++length;
  return std::string(buffer, length);
}

}  // namespace

NvmlLibrary::NvmlLibrary(const std::string& path) {
  if (!bind(path)) return;
  const int result = init_();
  if (result != kNvmlSuccess) {
    reason_ = "NVML not available: nvmlInit_v2 failed: " + error_text(result);
    return;
  }
  initialised_ = true;
}

NvmlLibrary::~NvmlLibrary() {
  if (initialised_) shutdown_();
  if (handle_ != nullptr) dlclose(handle_);
}

bool NvmlLibrary::bind(const std::string& path) {
  handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle_ == nullptr) {
    const char* detail = dlerror();
    reason_ = "NVML not available: cannot load " + path +
              (detail != nullptr ? std::string(" (") + detail + ")" : std::string());
    return false;
  }
  std::string missing;
  bool ok = resolve(handle_, "nvmlInit_v2", init_, missing);
  ok = resolve(handle_, "nvmlShutdown", shutdown_, missing) && ok;
  ok = resolve(handle_, "nvmlDeviceGetCount_v2", get_count_, missing) && ok;
  ok = resolve(handle_, "nvmlDeviceGetHandleByIndex_v2", get_handle_, missing) && ok;
  ok = resolve(handle_, "nvmlDeviceGetName", get_name_, missing) && ok;
  ok = resolve(handle_, "nvmlDeviceGetUUID", get_uuid_, missing) && ok;
  ok = resolve(handle_, "nvmlDeviceGetUtilizationRates", get_utilization_, missing) && ok;
  ok = resolve(handle_, "nvmlDeviceGetMemoryInfo", get_memory_, missing) && ok;
  ok = resolve(handle_, "nvmlDeviceGetTemperature", get_temperature_, missing) && ok;
  ok = resolve(handle_, "nvmlDeviceGetPowerUsage", get_power_, missing) && ok;
  ok = resolve(handle_, "nvmlDeviceGetTotalEccErrors", get_ecc_, missing) && ok;
  // Optional: memory without the driver's reservation (see NvmlMemoryV2); v1 is the fallback.
  get_memory_v2_ = reinterpret_cast<NvmlDeviceGetMemoryInfoV2Fn>(dlsym(handle_, "nvmlDeviceGetMemoryInfo_v2"));
  // Optional: only makes error messages readable.
  error_string_ = reinterpret_cast<NvmlErrorStringFn>(dlsym(handle_, "nvmlErrorString"));
  if (!ok) {
    reason_ = "NVML not available: " + path + " has no " + missing + " (driver too old?)";
    dlclose(handle_);
    handle_ = nullptr;
  }
  return ok;
}

std::string NvmlLibrary::error_text(int result) const {
  const char* text = error_string_ != nullptr ? error_string_(result) : nullptr;
  return (text != nullptr ? std::string(text) : std::string("error")) + " (" + std::to_string(result) + ")";
}

GpuQuery NvmlLibrary::query() {
  GpuQuery out;
  if (!initialised_) {
    out.reason = reason_;
    return out;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  unsigned int count = 0;
  const int result = get_count_(&count);
  if (result != kNvmlSuccess) {
    out.reason = "NVML not available: nvmlDeviceGetCount_v2 failed: " + error_text(result);
    return out;
  }
  out.available = true;
  out.gpus.reserve(count);
  for (unsigned int i = 0; i < count; ++i) out.gpus.push_back(read_device(i));
  return out;
}

GpuReading NvmlLibrary::read_device(unsigned int index) {
  GpuReading gpu;
  gpu.index = index;
  NvmlDevice device = nullptr;
  const int handle_result = get_handle_(index, &device);
  if (handle_result != kNvmlSuccess) {
    gpu.error = "nvmlDeviceGetHandleByIndex_v2(" + std::to_string(index) + ") failed: " + error_text(handle_result);
    return gpu;
  }
  char name[kNvmlDeviceNameBufferSize] = {};
  if (get_name_(device, name, sizeof name) == kNvmlSuccess) gpu.name = bounded_string(name, sizeof name);
  char uuid[kNvmlDeviceUuidBufferSize] = {};
  if (get_uuid_(device, uuid, sizeof uuid) == kNvmlSuccess) gpu.uuid = bounded_string(uuid, sizeof uuid);
  NvmlUtilization utilization{};
  if (get_utilization_(device, &utilization) == kNvmlSuccess) gpu.utilization_percent = utilization.gpu;
  NvmlMemoryV2 memory_v2{};
  memory_v2.version = kNvmlMemoryV2Version;
  NvmlMemory memory{};
  if (get_memory_v2_ != nullptr && get_memory_v2_(device, &memory_v2) == kNvmlSuccess) {
    gpu.memory_used_bytes = memory_v2.used;
    gpu.memory_total_bytes = memory_v2.total;
  } else if (get_memory_(device, &memory) == kNvmlSuccess) {
    gpu.memory_used_bytes = memory.used;
    gpu.memory_total_bytes = memory.total;
  }
  unsigned int celsius = 0;
  if (get_temperature_(device, kNvmlTemperatureGpu, &celsius) == kNvmlSuccess) gpu.temperature_celsius = celsius;
  unsigned int milliwatts = 0;
  if (get_power_(device, &milliwatts) == kNvmlSuccess) gpu.power_watts = milliwatts / 1000.0;
  unsigned long long corrected = 0;
  if (get_ecc_(device, kNvmlMemoryErrorCorrected, kNvmlVolatileEcc, &corrected) == kNvmlSuccess)
    gpu.ecc_corrected = corrected;
  unsigned long long uncorrected = 0;
  if (get_ecc_(device, kNvmlMemoryErrorUncorrected, kNvmlVolatileEcc, &uncorrected) == kNvmlSuccess) {
    gpu.ecc_uncorrected = uncorrected;
  }
  return gpu;
}

NvmlLibrary& process_nvml() {
  // A function-local static: initialised exactly once even when several threads ask first at the same time.
  static NvmlLibrary library([] {
    const char* configured = std::getenv(kNvmlLibraryEnv);
    return std::string(configured != nullptr && configured[0] != '\0' ? configured : kNvmlDefaultLibrary);
  }());
  return library;
}

GpuQuery query_gpus() { return process_nvml().query(); }

}  // namespace sovren::nvml
