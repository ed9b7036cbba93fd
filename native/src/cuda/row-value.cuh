// Element i of a weight row of any type on the device, through the shared block maths (bit-identical to the CPU
// dequantisers): used where a kernel reads a row element by element (embedding gather, GEMM weight tiles).
#pragma once
#include "cuda/cuda-kernels.h"
#include "quant/block-maths.h"

namespace sovren::cuda {

__device__ __forceinline__ float row_value(uint32_t type, const uint8_t* row, int64_t i) {
  switch (type) {
    case kF32:
      return block::load_f32(row + 4 * i);
    case kF16:
      return block::f16_to_f32(block::load_u16(row + 2 * i));
    case kBF16:
      return block::bf16_to_f32(block::load_u16(row + 2 * i));
    case kQ4_0:
      return block::q4_0_value(row + (i / 32) * block::kQ4_0Bytes, static_cast<int>(i % 32));
    case kQ8_0:
      return block::q8_0_value(row + (i / 32) * block::kQ8_0Bytes, static_cast<int>(i % 32));
    case kQ4_K:
      return block::q4_k_value(row + (i / 256) * block::kQ4_KBytes, static_cast<int>(i % 256));
    case kQ6_K:
      return block::q6_k_value(row + (i / 256) * block::kQ6_KBytes, static_cast<int>(i % 256));
  }
  return 0.0f;
}

}  // namespace sovren::cuda
