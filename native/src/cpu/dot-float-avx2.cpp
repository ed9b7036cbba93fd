// AVX2 + FMA + F16C dot kernels for float weights (F32, F16, BF16) against float32 activations, and axpy.
// Each weight vector is converted once and multiplied into up to kMaxTokenTile token rows.
#include <immintrin.h>

#include "cpu/avx2-reductions.h"
#include "cpu/dot-kernels.h"
#include "cpu/fp16.h"

namespace sovren {
namespace {

struct LoadF32 {
  static __m256 vec(const uint8_t* w, int64_t i) { return _mm256_loadu_ps(reinterpret_cast<const float*>(w) + i); }
  static float one(const uint8_t* w, int64_t i) { return load_f32(w + 4 * i); }
};
struct LoadF16 {
  static __m256 vec(const uint8_t* w, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * i)));
  }
  static float one(const uint8_t* w, int64_t i) { return fp16_to_fp32(load_u16(w + 2 * i)); }
};
struct LoadBF16 {  // bf16 is the top half of a float: widen to 32 bits and shift
  static __m256 vec(const uint8_t* w, int64_t i) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * i)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  static float one(const uint8_t* w, int64_t i) { return bf16_to_fp32(load_u16(w + 2 * i)); }
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

}  // namespace

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
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

}  // namespace sovren
