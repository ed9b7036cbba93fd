// CPU feature detection and the SOVREN_CPU_ISA override.
#include "cpu/cpu-isa.h"

#include <cstdlib>
#include <string>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "core/error.h"

namespace sovren {

std::string_view cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Scalar:
      return "scalar";
    case CpuIsa::Avx2:
      return "avx2";
    case CpuIsa::Avx512:
      return "avx512";
  }
  return "unknown";
}

#if defined(__x86_64__)
// F16C is read from CPUID leaf 1 (ECX bit 29) directly: clang does not accept "f16c" in __builtin_cpu_supports.
static bool cpu_has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (ecx & (1u << 29)) != 0;
}
#endif

bool cpu_isa_supported(CpuIsa isa) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
  switch (isa) {
    case CpuIsa::Scalar:
      return true;
    case CpuIsa::Avx2:
      return avx2;
    case CpuIsa::Avx512:
      return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  }
  return false;
#else
  return isa == CpuIsa::Scalar;
#endif
}

bool cpu_has_avx512_vnni() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return cpu_isa_supported(CpuIsa::Avx512) && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

CpuIsa best_cpu_isa() {
  if (cpu_isa_supported(CpuIsa::Avx512)) return CpuIsa::Avx512;
  if (cpu_isa_supported(CpuIsa::Avx2)) return CpuIsa::Avx2;
  return CpuIsa::Scalar;
}

std::vector<CpuIsa> supported_cpu_isas() {
  std::vector<CpuIsa> isas;
  for (CpuIsa isa : {CpuIsa::Scalar, CpuIsa::Avx2, CpuIsa::Avx512}) {
    if (cpu_isa_supported(isa)) isas.push_back(isa);
  }
  return isas;
}

CpuIsa select_cpu_isa() {
  const char* requested = std::getenv("SOVREN_CPU_ISA");
  if (requested == nullptr || *requested == '\0') return best_cpu_isa();
  for (CpuIsa isa : {CpuIsa::Scalar, CpuIsa::Avx2, CpuIsa::Avx512}) {
    if (cpu_isa_name(isa) == requested) {
      if (!cpu_isa_supported(isa)) {
        throw EngineError("SOVREN_CPU_ISA=" + std::string(requested) + " is not supported by this CPU");
      }
      return isa;
    }
  }
  throw EngineError("SOVREN_CPU_ISA='" + std::string(requested) + "' is not one of scalar, avx2, avx512");
}

}  // namespace sovren
