// Per-GPU readings through NVML, loaded at run time: libnvidia-ml.so.1 (or $SOVREN_NVML_LIBRARY) is dlopen()ed
// and initialised once per process; without it every query answers "NVML not available: <reason>".
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "nvml/nvml-api.h"

namespace sovren::nvml {

constexpr const char* kNvmlLibraryEnv = "SOVREN_NVML_LIBRARY";
constexpr const char* kNvmlDefaultLibrary = "libnvidia-ml.so.1";

struct GpuReading {
  unsigned int index = 0;
  std::string name;
  std::string uuid;
  // Each value is absent when the GPU or driver cannot report it (NVML_ERROR_NOT_SUPPORTED and the like).
  std::optional<unsigned int> utilization_percent;
  std::optional<uint64_t> memory_used_bytes;
  std::optional<uint64_t> memory_total_bytes;
  std::optional<unsigned int> temperature_celsius;
  std::optional<double> power_watts;
  std::optional<uint64_t> ecc_corrected;  // volatile count, since the driver loaded
  std::optional<uint64_t> ecc_uncorrected;
  // Set when the GPU could not be read at all (its handle); the other fields are then empty.
  std::optional<std::string> error;
};

struct GpuQuery {
  bool available = false;
  std::string reason;  // "NVML not available: ..." when !available
  std::vector<GpuReading> gpus;
};

// One loaded and initialised NVML. Construction never throws: a missing library, symbol or failed nvmlInit
// leaves it unavailable with the reason. query() is safe from any thread.
class NvmlLibrary {
 public:
  explicit NvmlLibrary(const std::string& path);
  ~NvmlLibrary();
  NvmlLibrary(const NvmlLibrary&) = delete;
  NvmlLibrary& operator=(const NvmlLibrary&) = delete;

  bool available() const { return initialised_; }
  const std::string& reason() const { return reason_; }
  GpuQuery query();

 private:
  bool bind(const std::string& path);
  std::string error_text(int result) const;
  GpuReading read_device(unsigned int index);

  void* handle_ = nullptr;
  bool initialised_ = false;
  std::string reason_;
  std::mutex mutex_;
  NvmlInitFn init_ = nullptr;
  NvmlShutdownFn shutdown_ = nullptr;
  NvmlErrorStringFn error_string_ = nullptr;
  NvmlDeviceGetCountFn get_count_ = nullptr;
  NvmlDeviceGetHandleByIndexFn get_handle_ = nullptr;
  NvmlDeviceGetNameFn get_name_ = nullptr;
  NvmlDeviceGetUuidFn get_uuid_ = nullptr;
  NvmlDeviceGetUtilizationRatesFn get_utilization_ = nullptr;
  NvmlDeviceGetMemoryInfoFn get_memory_ = nullptr;
  NvmlDeviceGetMemoryInfoV2Fn get_memory_v2_ = nullptr;  // optional (drivers since 510)
  NvmlDeviceGetTemperatureFn get_temperature_ = nullptr;
  NvmlDeviceGetPowerUsageFn get_power_ = nullptr;
  NvmlDeviceGetTotalEccErrorsFn get_ecc_ = nullptr;
};

// The process-wide NVML, opened on first use from $SOVREN_NVML_LIBRARY or libnvidia-ml.so.1 (thread-safe).
NvmlLibrary& process_nvml();

// process_nvml().query(): what the addon's gpuMetrics() returns.
GpuQuery query_gpus();

}  // namespace sovren::nvml
