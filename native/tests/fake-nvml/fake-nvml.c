/* A stand-in libnvidia-ml for test-nvml: exports the NVML entry points SOVREN binds, with NVML's documented
 * types and two GPUs of known readings (GPU 1 reports no power and no ECC, like a consumer board). It counts
 * nvmlInit_v2 / nvmlShutdown calls so the test can check that the engine initialises once. Setting
 * SOVREN_FAKE_NVML_INIT_RESULT makes nvmlInit_v2 fail with that nvmlReturn_t. */
#include <stdlib.h>
#include <string.h>

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st* nvmlDevice_t;
typedef struct { unsigned int gpu; unsigned int memory; } nvmlUtilization_t;
typedef struct { unsigned long long total; unsigned long long free; unsigned long long used; } nvmlMemory_t;
typedef struct {
  unsigned int version;
  unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;

enum { SUCCESS = 0, UNINITIALIZED = 1, INVALID_ARGUMENT = 2, NOT_SUPPORTED = 3, INSUFFICIENT_SIZE = 7 };

struct nvmlDevice_st { int index; };
static struct nvmlDevice_st devices[2] = { { 0 }, { 1 } };
static int init_calls = 0;
static int shutdown_calls = 0;
static int initialised = 0;

int fake_nvml_init_calls(void) { return init_calls; }
int fake_nvml_shutdown_calls(void) { return shutdown_calls; }

nvmlReturn_t nvmlInit_v2(void) {
  const char* forced = getenv("SOVREN_FAKE_NVML_INIT_RESULT");
  ++init_calls;
  if (forced != NULL && forced[0] != '\0') return atoi(forced);
  initialised = 1;
  return SUCCESS;
}

nvmlReturn_t nvmlShutdown(void) {
  ++shutdown_calls;
  initialised = 0;
  return SUCCESS;
}

const char* nvmlErrorString(nvmlReturn_t result) {
  switch (result) {
    case SUCCESS: return "Success";
    case NOT_SUPPORTED: return "Not Supported";
    case 9: return "Driver Not Loaded";
    default: return "Unknown Error";
  }
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* count) {
  if (!initialised) return UNINITIALIZED;
  *count = 2;
  return SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t* device) {
  if (!initialised) return UNINITIALIZED;
  if (index > 1) return INVALID_ARGUMENT;
  *device = &devices[index];
  return SUCCESS;
}

static nvmlReturn_t copy_text(const char* text, char* out, unsigned int length) {
  if (strlen(text) + 1 > length) return INSUFFICIENT_SIZE;
  memcpy(out, text, strlen(text) + 1);
  return SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char* name, unsigned int length) {
  return copy_text(device->index == 0 ? "NVIDIA H100 80GB HBM3" : "NVIDIA L4", name, length);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char* uuid, unsigned int length) {
  return copy_text(device->index == 0 ? "GPU-6f1a2b3c-0000-1111-2222-333344445555" : "GPU-7a8b9c0d-6666-7777-8888-999900001111",
                   uuid, length);
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t* utilization) {
  utilization->gpu = device->index == 0 ? 37 : 0;
  utilization->memory = device->index == 0 ? 12 : 1;
  return SUCCESS;
}

/* As the real driver: v1's used includes the driver's reservation (512 MiB on GPU 0), v2 reports it apart. GPU 1
   answers v2 with NOT_SUPPORTED so the reader's v1 fallback is exercised. */
nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t* memory) {
  if (memory->version != ((unsigned int)sizeof(nvmlMemory_v2_t) | (2u << 24))) return 25; /* ARGUMENT_VERSION_MISMATCH */
  if (device->index != 0) return NOT_SUPPORTED;
  memory->total = 85520809984ULL;
  memory->reserved = 536870912ULL;
  memory->used = 10737418240ULL;
  memory->free = memory->total - memory->reserved - memory->used;
  return SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* memory) {
  if (device->index == 0) {
    memory->total = 85520809984ULL;  /* 81559 MiB */
    memory->used = 10737418240ULL + 536870912ULL;   /* 10 GiB + the 512 MiB reservation */
  } else {
    memory->total = 24152899584ULL;  /* 23034 MiB */
    memory->used = 4194304ULL;       /* 4 MiB */
  }
  memory->free = memory->total - memory->used;
  return SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, int sensor, unsigned int* celsius) {
  if (sensor != 0) return INVALID_ARGUMENT;
  *celsius = device->index == 0 ? 45 : 33;
  return SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int* milliwatts) {
  if (device->index != 0) return NOT_SUPPORTED;
  *milliwatts = 119850;
  return SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, int error_type, int counter_type, unsigned long long* count) {
  if (device->index != 0) return NOT_SUPPORTED;
  if (counter_type != 0) return INVALID_ARGUMENT; /* the engine reads volatile counts */
  *count = error_type == 0 ? 7 : 2;
  return SUCCESS;
}
