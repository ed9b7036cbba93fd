// Block-level maths of every weight type, written once for the host compiler and nvcc (SOVREN_HD is
// `__host__ __device__` under nvcc): dequantise a block, dot a block with quantised activations. The CPU tests check
// them against cpu/dequantize.cpp and cpu/dot-scalar.cpp; the CUDA kernels (src/cuda/) call the same functions.
// Layouts: tensor/tensor-type.h (weights) and cpu/dot-kernels.h (Q8_0 / Q8_K activation blocks).
#pragma once
#include <stdint.h>

#include <cmath>
#include <cstring>

#if defined(__CUDACC__)
#define SOVREN_HD __host__ __device__ __forceinline__
#else
#define SOVREN_HD inline
#endif

namespace sovren::block {

constexpr int kQ4_0Bytes = 18, kQ8_0Bytes = 34, kQ4_KBytes = 144, kQ6_KBytes = 210;
constexpr int kActQ8_0Bytes = 36, kActQ8_KBytes = 292, kActQ8_KBsums = 260;

// Byte-wise little-endian loads: block headers are unaligned (Q4_0 blocks are 18 bytes), on the device too.
SOVREN_HD uint16_t load_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
SOVREN_HD uint32_t load_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

SOVREN_HD float bits_to_f32(uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
#endif
}
SOVREN_HD uint32_t f32_to_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
#endif
}

SOVREN_HD float load_f32(const uint8_t* p) { return bits_to_f32(load_u32(p)); }
SOVREN_HD void store_f32(uint8_t* p, float v) {
  const uint32_t b = f32_to_bits(v);
  p[0] = static_cast<uint8_t>(b), p[1] = static_cast<uint8_t>(b >> 8);
  p[2] = static_cast<uint8_t>(b >> 16), p[3] = static_cast<uint8_t>(b >> 24);
}

// Exact half -> float by bit manipulation (same values as cpu/fp16.h and ggml_fp16_to_fp32).
SOVREN_HD float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {
    return bits_to_f32(f32_to_bits(static_cast<float>(mantissa) * 0x1p-24f) | sign);  // zero / subnormal, exact
  }
  if (exponent == 31) return bits_to_f32(sign | 0x7f800000u | (mantissa << 13));  // inf / NaN
  return bits_to_f32(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}
SOVREN_HD float bf16_to_f32(uint16_t h) { return bits_to_f32(static_cast<uint32_t>(h) << 16); }

// ---- Dequantise one element / one block (expressions in ggml's order, so results are bit-identical) ----

// Q4_0 { f16 d; u8 qs[16]; }: element j < 16 = low nibble of qs[j], j + 16 = high nibble; value (q - 8) * d.
SOVREN_HD float q4_0_value(const uint8_t* b, int i) {
  const uint8_t q = b[2 + (i & 15)];
  const int x = (i < 16 ? (q & 0x0F) : (q >> 4)) - 8;
  return static_cast<float>(x) * f16_to_f32(load_u16(b));
}

// Q8_0 { f16 d; i8 qs[32]; }: value qs[i] * d.
SOVREN_HD float q8_0_value(const uint8_t* b, int i) {
  return static_cast<float>(static_cast<int8_t>(b[2 + i])) * f16_to_f32(load_u16(b));
}

// 6-bit scale and min of Q4_K sub-block j (0..7) from the 12 packed `scales` bytes (ggml's get_scale_min_k4).
SOVREN_HD void q4_k_scale_min(int j, const uint8_t* scales, int* scale, int* min) {
  if (j < 4) {
    *scale = scales[j] & 63;
    *min = scales[j + 4] & 63;
  } else {
    *scale = (scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4);
    *min = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
  }
}

// Q4_K { f16 d; f16 dmin; u8 scales[12]; u8 qs[128]; }: element i is in sub-block s = i / 32, stored in 32-byte chunk
// s / 2 (low nibbles for even s, high for odd); value (d * sc) * q - (dmin * m).
SOVREN_HD float q4_k_value(const uint8_t* b, int i) {
  const int s = i >> 5, l = i & 31;
  int sc, m;
  q4_k_scale_min(s, b + 4, &sc, &m);
  const uint8_t byte = b[16 + 32 * (s >> 1) + l];
  const int q = (s & 1) ? (byte >> 4) : (byte & 0xF);
  const float d1 = f16_to_f32(load_u16(b)) * static_cast<float>(sc);
  const float m1 = f16_to_f32(load_u16(b + 2)) * static_cast<float>(m);
  return d1 * static_cast<float>(q) - m1;
}

// 6-bit quant of Q6_K element i, before the -32 offset (layout in cpu/dequantize.cpp): half h = i / 128 uses
// ql[64h..], qh[32h..]; within it, quarter k = (i % 128) / 32 takes ql[l + 32 (k & 1)] (low nibble for k < 2)
// and bits 2k..2k+1 of qh[l].
SOVREN_HD int q6_k_quant(const uint8_t* b, int i) {
  const int h = i >> 7, k = (i >> 5) & 3, l = i & 31;
  const uint8_t lo = b[64 * h + l + 32 * (k & 1)];
  const uint8_t hi = b[128 + 32 * h + l];
  return ((k < 2 ? (lo & 0xF) : (lo >> 4)) | (((hi >> (2 * k)) & 3) << 4));
}

// Q6_K { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d; }: value d * scales[i / 16] * (q - 32).
SOVREN_HD float q6_k_value(const uint8_t* b, int i) {
  const float d = f16_to_f32(load_u16(b + 208));
  const auto sc = static_cast<int8_t>(b[192 + (i >> 4)]);
  return d * static_cast<float>(sc) * static_cast<float>(q6_k_quant(b, i) - 32);
}

// y[0..32) or y[0..256) = the values of one block.
SOVREN_HD void dequantize_q4_0(const uint8_t* b, float* y) {
  for (int i = 0; i < 32; ++i) y[i] = q4_0_value(b, i);
}
SOVREN_HD void dequantize_q8_0(const uint8_t* b, float* y) {
  for (int i = 0; i < 32; ++i) y[i] = q8_0_value(b, i);
}
SOVREN_HD void dequantize_q4_k(const uint8_t* b, float* y) {
  for (int i = 0; i < 256; ++i) y[i] = q4_k_value(b, i);
}
SOVREN_HD void dequantize_q6_k(const uint8_t* b, float* y) {
  for (int i = 0; i < 256; ++i) y[i] = q6_k_value(b, i);
}

// ---- Integer block dots with quantised activations ----
// Each returns the integer part of a slice so a warp can split one block between lanes (MMVQ); *_block_dot sums
// every slice and scales once, in the order of the CPU scalar kernels.

// Q4_0 x Q8_0 activation, elements [j0, j0 + n) of the 16 low/high pairs: sum (q - 8) * y.
SOVREN_HD int q4_0_isum(const uint8_t* w, const uint8_t* a, int j0, int n) {
  const auto* y = reinterpret_cast<const int8_t*>(a + 4);
  int isum = 0;
  for (int j = j0; j < j0 + n; ++j) {
    isum += ((w[2 + j] & 0x0F) - 8) * y[j];
    isum += ((w[2 + j] >> 4) - 8) * y[j + 16];
  }
  return isum;
}
SOVREN_HD float q4_0_block_dot(const uint8_t* w, const uint8_t* a) {
  return f16_to_f32(load_u16(w)) * load_f32(a) * static_cast<float>(q4_0_isum(w, a, 0, 16));
}

// Q8_0 x Q8_0 activation, elements [j0, j0 + n).
SOVREN_HD int q8_0_isum(const uint8_t* w, const uint8_t* a, int j0, int n) {
  const auto* q = reinterpret_cast<const int8_t*>(w + 2);
  const auto* y = reinterpret_cast<const int8_t*>(a + 4);
  int isum = 0;
  for (int j = j0; j < j0 + n; ++j) isum += q[j] * y[j];
  return isum;
}
SOVREN_HD float q8_0_block_dot(const uint8_t* w, const uint8_t* a) {
  return f16_to_f32(load_u16(w)) * load_f32(a) * static_cast<float>(q8_0_isum(w, a, 0, 32));
}

SOVREN_HD int act_bsum(const uint8_t* a, int j) { return static_cast<int16_t>(load_u16(a + kActQ8_KBsums + 2 * j)); }

// Q4_K x Q8_K activation for chunk c (0..3, sub-blocks 2c and 2c + 1): *isum += sc * sum(q * y), *msum += m * sum(y).
SOVREN_HD void q4_k_chunk_sums(const uint8_t* w, const uint8_t* a, int c, int* isum, int* msum) {
  const uint8_t* qs = w + 16 + 32 * c;
  const auto* y = reinterpret_cast<const int8_t*>(a + 4) + 64 * c;
  int lo = 0, hi = 0;
  for (int l = 0; l < 32; ++l) {
    lo += (qs[l] & 0xF) * y[l];
    hi += (qs[l] >> 4) * y[32 + l];
  }
  int sc0, m0, sc1, m1;
  q4_k_scale_min(2 * c, w + 4, &sc0, &m0);
  q4_k_scale_min(2 * c + 1, w + 4, &sc1, &m1);
  *isum += sc0 * lo + sc1 * hi;
  *msum += m0 * (act_bsum(a, 4 * c) + act_bsum(a, 4 * c + 1)) + m1 * (act_bsum(a, 4 * c + 2) + act_bsum(a, 4 * c + 3));
}
SOVREN_HD float q4_k_scale_sums(const uint8_t* w, const uint8_t* a, int isum, int msum) {
  return load_f32(a) *
         (f16_to_f32(load_u16(w)) * static_cast<float>(isum) - f16_to_f32(load_u16(w + 2)) * static_cast<float>(msum));
}
SOVREN_HD float q4_k_block_dot(const uint8_t* w, const uint8_t* a) {
  int isum = 0, msum = 0;
  for (int c = 0; c < 4; ++c) q4_k_chunk_sums(w, a, c, &isum, &msum);
  return q4_k_scale_sums(w, a, isum, msum);
}

// Q6_K x Q8_K activation for sub-block s (0..15 of 16 values): scales[s] * (sum(q * y) - 32 * bsum[s]).
SOVREN_HD int q6_k_sub_isum(const uint8_t* w, const uint8_t* a, int s) {
  const auto* y = reinterpret_cast<const int8_t*>(a + 4);
  int sum = 0;
  for (int i = 16 * s; i < 16 * s + 16; ++i) sum += q6_k_quant(w, i) * y[i];
  return static_cast<int8_t>(w[192 + s]) * (sum - 32 * act_bsum(a, s));
}
SOVREN_HD float q6_k_scale_isum(const uint8_t* w, const uint8_t* a, int isum) {
  return load_f32(a) * f16_to_f32(load_u16(w + 208)) * static_cast<float>(isum);
}
SOVREN_HD float q6_k_block_dot(const uint8_t* w, const uint8_t* a) {
  int isum = 0;
  for (int s = 0; s < 16; ++s) isum += q6_k_sub_isum(w, a, s);
  return q6_k_scale_isum(w, a, isum);
}

// ---- Activation quantisation (same bytes as cpu/dot-scalar.cpp: d = max|x| / 127, round to nearest even) ----

SOVREN_HD float round_even(float v) {
#if defined(__CUDA_ARCH__)
  return rintf(v);
#else
  return std::nearbyint(v);  // the default rounding mode: to nearest even
#endif
}
SOVREN_HD float quantize_values(const float* x, int count, int8_t* q) {
  float amax = 0.0f;
  for (int j = 0; j < count; ++j) amax = fmaxf(amax, fabsf(x[j]));
  const float d = amax / 127.0f;
  for (int j = 0; j < count; ++j) q[j] = d == 0.0f ? 0 : static_cast<int8_t>(round_even(x[j] / d));
  return d;
}
SOVREN_HD void quantize_act_q8_0(const float* x, uint8_t* out) {
  store_f32(out, quantize_values(x, 32, reinterpret_cast<int8_t*>(out + 4)));
}
SOVREN_HD void quantize_act_q8_k(const float* x, uint8_t* out) {
  auto* q = reinterpret_cast<int8_t*>(out + 4);
  store_f32(out, quantize_values(x, 256, q));
  for (int j = 0; j < 16; ++j) {
    int bsum = 0;
    for (int l = 0; l < 16; ++l) bsum += q[16 * j + l];
    out[kActQ8_KBsums + 2 * j] = static_cast<uint8_t>(bsum & 0xFF);
    out[kActQ8_KBsums + 2 * j + 1] = static_cast<uint8_t>((bsum >> 8) & 0xFF);
  }
}

}  // namespace sovren::block
