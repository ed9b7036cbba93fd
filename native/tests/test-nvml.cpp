// NVML binding against a real shared library: the fake libnvidia-ml built beside this test (known readings,
// NVML's documented structs), a library that does not exist, one that fails nvmlInit, and the process-wide
// instance under concurrent first use (initialised exactly once).
#include <dlfcn.h>

#include <cstdlib>
#include <thread>
#include <vector>

#include "nvml/nvml-reader.h"
#include "test-check.h"

#ifndef SOVREN_FAKE_NVML_PATH
#error "SOVREN_FAKE_NVML_PATH must name the fake libnvidia-ml built by CMake"
#endif

using sovren::nvml::GpuQuery;
using sovren::nvml::NvmlLibrary;

namespace {

int fake_counter(const char* symbol) {
  void* handle = dlopen(SOVREN_FAKE_NVML_PATH, RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) return -1;
  auto* fn = reinterpret_cast<int (*)()>(dlsym(handle, symbol));
  const int value = fn != nullptr ? fn() : -1;
  dlclose(handle);
  return value;
}

void reads_every_field_of_the_fake_library() {
  NvmlLibrary nvml(SOVREN_FAKE_NVML_PATH);
  check(nvml.available(), "fake NVML initialises: " + nvml.reason());
  const GpuQuery query = nvml.query();
  check(query.available, "query available");
  check(query.gpus.size() == 2, "two GPUs");
  if (query.gpus.size() != 2) return;
  const auto& h100 = query.gpus[0];
  check(h100.index == 0, "index 0");
  check(h100.name == "NVIDIA H100 80GB HBM3", "name: " + h100.name);
  check(h100.uuid == "GPU-6f1a2b3c-0000-1111-2222-333344445555", "uuid: " + h100.uuid);
  check(h100.utilization_percent == 37u, "utilisation 37 %");
  check(h100.memory_total_bytes == 85520809984ULL, "memory total (nvmlMemory_t.total)");
  check(h100.memory_used_bytes == 10737418240ULL,
        "memory used through nvmlDeviceGetMemoryInfo_v2 (versioned struct, .used without the driver's reservation)");
  check(h100.temperature_celsius == 45u, "temperature 45 C");
  check(h100.power_watts.has_value() && *h100.power_watts > 119.849 && *h100.power_watts < 119.851,
        "power 119.85 W from mW");
  check(h100.ecc_corrected == 7ULL, "ECC corrected 7");
  check(h100.ecc_uncorrected == 2ULL, "ECC uncorrected 2");
  check(!h100.error.has_value(), "no error on GPU 0");
  const auto& l4 = query.gpus[1];
  check(l4.index == 1 && l4.name == "NVIDIA L4", "GPU 1 name");
  check(l4.memory_used_bytes == 4194304ULL && l4.temperature_celsius == 33u,
        "GPU 1 memory (v2 not supported: v1 fallback, .used not .free) and temperature");
  check(!l4.power_watts.has_value(), "power absent when not supported");
  check(!l4.ecc_corrected.has_value() && !l4.ecc_uncorrected.has_value(), "ECC absent when not supported");
}

void init_and_shutdown_pair_up() {
  void* keep = dlopen(SOVREN_FAKE_NVML_PATH, RTLD_NOW);  // keeps the fake's counters alive across objects
  const int inits = fake_counter("fake_nvml_init_calls");
  const int shutdowns = fake_counter("fake_nvml_shutdown_calls");
  {
    NvmlLibrary nvml(SOVREN_FAKE_NVML_PATH);
    for (int i = 0; i < 50; ++i) nvml.query();
    check(fake_counter("fake_nvml_init_calls") == inits + 1, "one nvmlInit_v2 for many queries");
    check(fake_counter("fake_nvml_shutdown_calls") == shutdowns, "no nvmlShutdown while in use");
  }
  check(fake_counter("fake_nvml_shutdown_calls") == shutdowns + 1, "nvmlShutdown when the library object goes away");
  if (keep != nullptr) dlclose(keep);
}

void missing_library_is_reported_not_thrown() {
  NvmlLibrary nvml("/no/such/dir/libnvidia-ml.so.1");
  check(!nvml.available(), "missing library unavailable");
  const GpuQuery query = nvml.query();
  check(!query.available && query.gpus.empty(), "no GPUs without NVML");
  check(query.reason.rfind("NVML not available: cannot load /no/such/dir/libnvidia-ml.so.1", 0) == 0,
        "reason: " + query.reason);
}

void library_without_nvml_symbols_is_reported() {
  NvmlLibrary nvml("libm.so.6");  // loads, but is not NVML
  check(!nvml.available(), "a non-NVML library is unavailable");
  check(nvml.reason().find("has no nvmlInit_v2") != std::string::npos,
        "reason names the missing symbol: " + nvml.reason());
}

void failed_init_is_reported() {
  setenv("SOVREN_FAKE_NVML_INIT_RESULT", "9", 1);
  NvmlLibrary nvml(SOVREN_FAKE_NVML_PATH);
  unsetenv("SOVREN_FAKE_NVML_INIT_RESULT");
  check(!nvml.available(), "failed nvmlInit unavailable");
  check(nvml.reason() == "NVML not available: nvmlInit_v2 failed: Driver Not Loaded (9)", "reason: " + nvml.reason());
  check(nvml.query().gpus.empty(), "no readings after a failed init");
}

void process_instance_initialises_once_under_concurrent_use() {
  setenv(sovren::nvml::kNvmlLibraryEnv, SOVREN_FAKE_NVML_PATH, 1);
  void* keep = dlopen(SOVREN_FAKE_NVML_PATH, RTLD_NOW);
  const int inits = fake_counter("fake_nvml_init_calls");
  std::vector<std::thread> threads;
  std::vector<size_t> counts(8, 0);
  for (size_t t = 0; t < counts.size(); ++t) {
    threads.emplace_back([&counts, t] {
      for (int i = 0; i < 100; ++i) counts[t] = sovren::nvml::query_gpus().gpus.size();
    });
  }
  for (auto& thread : threads) thread.join();
  for (size_t t = 0; t < counts.size(); ++t) check(counts[t] == 2, "thread " + std::to_string(t) + " read both GPUs");
  check(fake_counter("fake_nvml_init_calls") == inits + 1, "process-wide NVML initialised exactly once");
  if (keep != nullptr) dlclose(keep);
}

}  // namespace

int main() {
  return run_suites({
      {"reads_every_field_of_the_fake_library", reads_every_field_of_the_fake_library},
      {"init_and_shutdown_pair_up", init_and_shutdown_pair_up},
      {"missing_library_is_reported_not_thrown", missing_library_is_reported_not_thrown},
      {"library_without_nvml_symbols_is_reported", library_without_nvml_symbols_is_reported},
      {"failed_init_is_reported", failed_init_is_reported},
      {"process_instance_initialises_once_under_concurrent_use",
       process_instance_initialises_once_under_concurrent_use},
  });
}
