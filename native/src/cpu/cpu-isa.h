// Run-time choice of the instruction set the CPU kernels use: the best the CPU supports, or the one named by the
// environment variable SOVREN_CPU_ISA=scalar|avx2|avx512 (for tests and benchmarks).
#pragma once
#include <string_view>
#include <vector>

namespace sovren {

enum class CpuIsa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

std::string_view cpu_isa_name(CpuIsa isa);
// Avx2 needs AVX2 + FMA + F16C; Avx512 needs AVX-512 F/BW/VL/DQ as well.
bool cpu_isa_supported(CpuIsa isa);
CpuIsa best_cpu_isa();
// Every instruction set this CPU can run, scalar first.
std::vector<CpuIsa> supported_cpu_isas();
// AVX512-VNNI (vpdpbusd): an extra the Avx512 kernels use where present (the Q4_K prompt GEMM).
bool cpu_has_avx512_vnni();
// SOVREN_CPU_ISA if set (throws EngineError naming it when unknown or unsupported), else best_cpu_isa().
CpuIsa select_cpu_isa();

}  // namespace sovren
