// The few NVML entry points and types SOVREN reads, declared from NVML's documented C ABI (nvml.h) so the engine
// builds without the CUDA toolkit and loads libnvidia-ml only at run time (dlopen), when a driver is installed.
#pragma once

namespace sovren::nvml {

// nvmlReturn_t values used by name; any other value is reported through nvmlErrorString.
enum NvmlReturn : int {
  kNvmlSuccess = 0,
  kNvmlErrorNotSupported = 3,
  kNvmlErrorInsufficientSize = 7,
};

struct NvmlDeviceOpaque;  // nvmlDevice_t is a pointer to an opaque struct
using NvmlDevice = NvmlDeviceOpaque*;

// nvmlUtilization_t: percent of the last sample period the GPU / memory controller was busy.
struct NvmlUtilization {
  unsigned int gpu;
  unsigned int memory;
};

// nvmlMemory_t (v1): bytes, in this order.
struct NvmlMemory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

// nvmlMemory_v2_t: `used` excludes the memory the driver reserves (v1's `used` includes it, so an idle H100 reads
// ~480 MiB used through v1 and 0 through v2, which is what nvidia-smi shows).
struct NvmlMemoryV2 {
  unsigned int version;
  unsigned long long total;
  unsigned long long reserved;
  unsigned long long free;
  unsigned long long used;
};
// NVML_STRUCT_VERSION(Memory, 2): the struct's size with the version number in the top byte.
constexpr unsigned int kNvmlMemoryV2Version = static_cast<unsigned int>(sizeof(NvmlMemoryV2)) | (2u << 24);

constexpr int kNvmlTemperatureGpu = 0;        // nvmlTemperatureSensors_t NVML_TEMPERATURE_GPU
constexpr int kNvmlMemoryErrorCorrected = 0;  // nvmlMemoryErrorType_t
constexpr int kNvmlMemoryErrorUncorrected = 1;
constexpr int kNvmlVolatileEcc = 0;                     // nvmlEccCounterType_t: since the driver loaded
constexpr unsigned int kNvmlDeviceNameBufferSize = 96;  // NVML_DEVICE_NAME_V2_BUFFER_SIZE
constexpr unsigned int kNvmlDeviceUuidBufferSize = 96;  // NVML_DEVICE_UUID_V2_BUFFER_SIZE

extern "C" {
using NvmlInitFn = int (*)();
using NvmlShutdownFn = int (*)();
using NvmlErrorStringFn = const char* (*)(int result);
using NvmlDeviceGetCountFn = int (*)(unsigned int* count);
using NvmlDeviceGetHandleByIndexFn = int (*)(unsigned int index, NvmlDevice* device);
using NvmlDeviceGetNameFn = int (*)(NvmlDevice device, char* name, unsigned int length);
using NvmlDeviceGetUuidFn = int (*)(NvmlDevice device, char* uuid, unsigned int length);
using NvmlDeviceGetUtilizationRatesFn = int (*)(NvmlDevice device, NvmlUtilization* utilization);
using NvmlDeviceGetMemoryInfoFn = int (*)(NvmlDevice device, NvmlMemory* memory);
using NvmlDeviceGetMemoryInfoV2Fn = int (*)(NvmlDevice device, NvmlMemoryV2* memory);
using NvmlDeviceGetTemperatureFn = int (*)(NvmlDevice device, int sensor, unsigned int* celsius);
using NvmlDeviceGetPowerUsageFn = int (*)(NvmlDevice device, unsigned int* milliwatts);
using NvmlDeviceGetTotalEccErrorsFn = int (*)(NvmlDevice device, int error_type, int counter_type,
                                              unsigned long long* count);
}

}  // namespace sovren::nvml
