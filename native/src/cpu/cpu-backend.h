// The CPU implementation of Backend (backend/backend.h): persistent thread pool + run-time chosen SIMD kernels.
#pragma once
#include <memory>

#include "backend/backend.h"
#include "cpu/cpu-isa.h"

namespace sovren {

// Like make_cpu_backend, but with an explicit instruction set (throws EngineError if this CPU lacks it).
// Used by tests and benchmarks to compare ISAs in one process.
std::unique_ptr<Backend> make_cpu_backend_with_isa(int n_threads, CpuIsa isa);

}  // namespace sovren
