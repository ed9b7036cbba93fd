// AVX2 + FMA + F16C dot kernels for float weights (F32, F16, BF16) against float32 activations, and axpy.
// Each weight vector is converted once and multiplied into up to kMaxTokenTile token rows.
#include <immintrin.h>

#include <cstring>

#include "cpu/avx2-reductions.h"
#include "cpu/dot-kernels.h"
#include "cpu/dot-rows-tile.h"
#include "cpu/fp16.h"

namespace sovren {
namespace {

// Lanes below count set (count < 8), for masked loads of a tail.
inline __m256i lane_mask(int64_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

struct LoadF32 {
  static __m256 vec(const uint8_t* w, int64_t i) { return _mm256_loadu_ps(reinterpret_cast<const float*>(w) + i); }
  static float one(const uint8_t* w, int64_t i) { return load_f32(w + 4 * i); }
  // Elements i .. i + count - 1 (count < 8), zeros above; reads nothing past them.
  static __m256 part(const uint8_t* w, int64_t i, int64_t count) {
    return _mm256_maskload_ps(reinterpret_cast<const float*>(w) + i, lane_mask(count));
  }
};
struct LoadF16 {
  static __m256 vec(const uint8_t* w, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * i)));
  }
  static float one(const uint8_t* w, int64_t i) { return fp16_to_fp32(load_u16(w + 2 * i)); }
  static __m256 part(const uint8_t* w, int64_t i, int64_t count) {
    uint16_t buf[8] = {};  // no 16-bit masked load in AVX2
    std::memcpy(buf, w + 2 * i, static_cast<size_t>(count) * 2);
    return vec(reinterpret_cast<const uint8_t*>(buf), 0);
  }
};
struct LoadBF16 {  // bf16 is the top half of a float: widen to 32 bits and shift
  static __m256 vec(const uint8_t* w, int64_t i) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * i)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  static float one(const uint8_t* w, int64_t i) { return bf16_to_fp32(load_u16(w + 2 * i)); }
  static __m256 part(const uint8_t* w, int64_t i, int64_t count) {
    uint16_t buf[8] = {};
    std::memcpy(buf, w + 2 * i, static_cast<size_t>(count) * 2);
    return vec(reinterpret_cast<const uint8_t*>(buf), 0);
  }
};

template <class Load, int NT>
void dot_float_tile(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, float* out) {
  constexpr int U = NT <= 2 ? 4 : 2;  // independent accumulators per token, bounded by the 16 ymm registers
  const float* x[NT];
  for (int t = 0; t < NT; ++t) x[t] = reinterpret_cast<const float*>(act + t * stride);
  __m256 acc[NT][U];
  for (int t = 0; t < NT; ++t)
    for (int u = 0; u < U; ++u) acc[t][u] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 * U <= n; i += 8 * U) {
    for (int u = 0; u < U; ++u) {
      const __m256 wv = Load::vec(w, i + 8 * u);
      for (int t = 0; t < NT; ++t) acc[t][u] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x[t] + i + 8 * u), acc[t][u]);
    }
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 wv = Load::vec(w, i);
    for (int t = 0; t < NT; ++t) acc[t][0] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x[t] + i), acc[t][0]);
  }
  for (int t = 0; t < NT; ++t) {
    __m256 s = acc[t][0];
    for (int u = 1; u < U; ++u) s = _mm256_add_ps(s, acc[t][u]);
    float r = hsum_f32x8(s);
    for (int64_t j = i; j < n; ++j) r += Load::one(w, j) * x[t][j];
    out[t] = r;
  }
}

template <class Load>
void dot_float(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
  switch (n_tok) {
    case 1:
      return dot_float_tile<Load, 1>(n, w, act, stride, out);
    case 2:
      return dot_float_tile<Load, 2>(n, w, act, stride, out);
    case 3:
      return dot_float_tile<Load, 3>(n, w, act, stride, out);
    default:
      return dot_float_tile<Load, 4>(n, w, act, stride, out);
  }
}

// Horizontal sums of 8 accumulators at once: lane 4 * L + m of the result is the sum of a[2 * m + L]. Each
// accumulator's lanes are paired exactly as hsum_f32x8 pairs them (i + 4, then + 2, then + 1), so a dot has the same
// bits whichever tile computed it.
inline __m256 reduce8(const __m256 a[8]) {
  __m256 s[4], h[2];
  for (int k = 0; k < 4; ++k) {  // 128-bit halves: [a(2k) lanes 0-3 + 4-7, a(2k+1) lanes 0-3 + 4-7]
    s[k] = _mm256_add_ps(_mm256_permute2f128_ps(a[2 * k], a[2 * k + 1], 0x20),
                         _mm256_permute2f128_ps(a[2 * k], a[2 * k + 1], 0x31));
  }
  for (int k = 0; k < 2; ++k) {
    h[k] = _mm256_add_ps(_mm256_shuffle_ps(s[2 * k], s[2 * k + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm256_shuffle_ps(s[2 * k], s[2 * k + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  }
  return _mm256_add_ps(_mm256_shuffle_ps(h[0], h[1], _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm256_shuffle_ps(h[0], h[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

// The ymm registers for dot-rows-tile.h: 8 accumulators (2 rows x 4 tokens, or 8 rows of one token), leaving
// room in the 16 registers for 4 activations and the weight vector.
struct Simd256 {
  using Vec = __m256;
  static constexpr int kLanes = 8, kSlots = 8, kSingleTokenRows = 8;
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static Vec load_part(const float* p, int64_t count) { return _mm256_maskload_ps(p, lane_mask(count)); }
  static void reduce(const Vec acc[8], float* sums) { _mm256_store_ps(sums, reduce8(acc)); }
  static float reduce_one(Vec acc) { return hsum_f32x8(acc); }
  static constexpr int lane_of(int slot) { return 4 * (slot % 2) + slot / 2; }
};

}  // namespace

void dot_rows_f32_avx2(int64_t n, const uint8_t* w, size_t w_stride, int64_t n_rows, const uint8_t* act,
                       size_t act_stride, int n_tok, float* y, size_t y_stride) {
  dot_rows<Simd256, LoadF32>(n, w, w_stride, n_rows, act, act_stride, n_tok, y, y_stride);
}
void dot_rows_f16_avx2(int64_t n, const uint8_t* w, size_t w_stride, int64_t n_rows, const uint8_t* act,
                       size_t act_stride, int n_tok, float* y, size_t y_stride) {
  dot_rows<Simd256, LoadF16>(n, w, w_stride, n_rows, act, act_stride, n_tok, y, y_stride);
}
void dot_rows_bf16_avx2(int64_t n, const uint8_t* w, size_t w_stride, int64_t n_rows, const uint8_t* act,
                        size_t act_stride, int n_tok, float* y, size_t y_stride) {
  dot_rows<Simd256, LoadBF16>(n, w, w_stride, n_rows, act, act_stride, n_tok, y, y_stride);
}

void dot_f32_avx2(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
  dot_float<LoadF32>(n, w, act, stride, n_tok, out);
}
void dot_f16_avx2(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
  dot_float<LoadF16>(n, w, act, stride, n_tok, out);
}
void dot_bf16_avx2(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
  dot_float<LoadBF16>(n, w, act, stride, n_tok, out);
}

void axpy_avx2(int64_t n, float a, const float* x, float* y) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

}  // namespace sovren
