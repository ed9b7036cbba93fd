// Scalar dequantisation of every supported block layout; the reference the dot kernels and tests are checked against.
// Expressions follow ggml's dequantize_row_* operation by operation so results are bit-identical.
#include "cpu/dequantize.h"

#include <string>

#include "core/error.h"
#include "cpu/fp16.h"

namespace sovren {
namespace {

// Q4_0: 32 elements in 18 bytes { f16 d; u8 qs[16]; }.
// Element j (< 16) is the low nibble of qs[j], element j + 16 the high nibble; value = d * (nibble - 8).
void dequantize_q4_0(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += 18, dst += 32) {
    const float d = fp16_to_fp32(load_u16(src));
    const uint8_t* qs = src + 2;
    for (int j = 0; j < 16; ++j) {
      const int x0 = (qs[j] & 0x0F) - 8;
      const int x1 = (qs[j] >> 4) - 8;
      dst[j] = static_cast<float>(x0) * d;
      dst[j + 16] = static_cast<float>(x1) * d;
    }
  }
}

// Q8_0: 32 elements in 34 bytes { f16 d; i8 qs[32]; }; value = d * qs[j].
void dequantize_q8_0(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += 34, dst += 32) {
    const float d = fp16_to_fp32(load_u16(src));
    const auto* qs = reinterpret_cast<const int8_t*>(src + 2);
    for (int j = 0; j < 32; ++j) dst[j] = static_cast<float>(qs[j]) * d;
  }
}

// Q4_K: 256 elements in 144 bytes { f16 d; f16 dmin; u8 scales[12]; u8 qs[128]; }.
// 8 sub-blocks of 32 with a 6-bit scale sc and 6-bit min m each (packed in `scales`, see q4_k_scale_min).
// qs is walked in 4 chunks of 32 bytes; chunk c holds sub-block 2c in its low nibbles and 2c+1 in its high
// nibbles. value = (d * sc) * q - (dmin * m).
void dequantize_q4_k(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += 144) {
    const float d = fp16_to_fp32(load_u16(src));
    const float dmin = fp16_to_fp32(load_u16(src + 2));
    const uint8_t* scales = src + 4;
    const uint8_t* q = src + 16;
    for (int chunk = 0; chunk < 4; ++chunk, q += 32) {
      uint8_t sc, m;
      q4_k_scale_min(2 * chunk, scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      q4_k_scale_min(2 * chunk + 1, scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *dst++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *dst++ = d2 * (q[l] >> 4) - m2;
    }
  }
}

// Q6_K: 256 elements in 210 bytes { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d; }.
// 6-bit quants = 4 low bits from ql + 2 high bits from qh, minus 32; 16 sub-blocks of 16 with an int8 scale.
// Each half of 128 elements uses 64 ql bytes and 32 qh bytes: for l < 32,
//   y[l]      = ql[l]    low nibble | qh[l] bits 0-1,   y[l + 32] = ql[l+32] low nibble | qh[l] bits 2-3,
//   y[l + 64] = ql[l]   high nibble | qh[l] bits 4-5,   y[l + 96] = ql[l+32] high nibble | qh[l] bits 6-7.
// value = d * scales[sub-block] * (q - 32).
void dequantize_q6_k(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += 210) {
    const float d = fp16_to_fp32(load_u16(src + 208));
    const uint8_t* ql = src;
    const uint8_t* qh = src + 128;
    const auto* sc = reinterpret_cast<const int8_t*>(src + 192);
    for (int half = 0; half < 2; ++half, dst += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = static_cast<int8_t>((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = static_cast<int8_t>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = static_cast<int8_t>((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = static_cast<int8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        dst[l + 0] = d * sc[is + 0] * q1;
        dst[l + 32] = d * sc[is + 2] * q2;
        dst[l + 64] = d * sc[is + 4] * q3;
        dst[l + 96] = d * sc[is + 6] * q4;
      }
    }
  }
}

}  // namespace

void dequantize_row(TensorType type, const uint8_t* src, float* dst, int64_t n) {
  const auto& traits = tensor_type_traits(type);
  if (n < 0 || n % traits.block_elements != 0) {
    throw EngineError("dequantize_row: " + std::to_string(n) + " elements is not a whole number of " +
                      std::string(traits.name) + " blocks of " + std::to_string(traits.block_elements));
  }
  const int64_t n_blocks = n / traits.block_elements;
  switch (type) {
    case TensorType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case TensorType::F16:
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(load_u16(src + 2 * i));
      return;
    case TensorType::BF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(load_u16(src + 2 * i));
      return;
    case TensorType::Q4_0:
      return dequantize_q4_0(src, dst, n_blocks);
    case TensorType::Q8_0:
      return dequantize_q8_0(src, dst, n_blocks);
    case TensorType::Q4_K:
      return dequantize_q4_k(src, dst, n_blocks);
    case TensorType::Q6_K:
      return dequantize_q6_k(src, dst, n_blocks);
  }
  throw EngineError("dequantize_row: unsupported tensor type id " + std::to_string(static_cast<uint32_t>(type)));
}

}  // namespace sovren
