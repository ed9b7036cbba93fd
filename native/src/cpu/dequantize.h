// Dequantisation of one row of any supported tensor type to float32, bit-exact with ggml's dequantize_row_*.
#pragma once
#include <cstdint>

#include "tensor/tensor-type.h"

namespace sovren {

// dst[0..n) = the n elements stored at src. n must be a whole number of blocks of `type` (the caller checks it
// with tensor_row_bytes); throws EngineError otherwise.
void dequantize_row(TensorType type, const uint8_t* src, float* dst, int64_t n);

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K block, from its 12 packed `scales` bytes
// (ggml's get_scale_min_k4).
static inline void q4_k_scale_min(int j, const uint8_t* scales, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = scales[j] & 63;
    *min = scales[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
  }
}

}  // namespace sovren
