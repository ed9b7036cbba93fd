// AVX-512 dot kernels for float weights (F32, F16, BF16) against float32 activations, and axpy.
// Same structure as dot-float-avx2.cpp with 16 lanes and the 32 zmm registers allowing 4 accumulators per token.
// GCC 12's AVX-512 intrinsic headers pass _mm512_undefined_*() values that trip -Wuninitialized once inlined
// (GCC bug 105593); the warnings are about the headers, not this code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "cpu/dot-kernels.h"
#include "cpu/dot-rows-tile.h"
#include "cpu/fp16.h"

namespace sovren {
namespace {

// Lanes below count set (count < 16), for masked loads of a tail.
inline __mmask16 tail_mask(int64_t count) { return static_cast<__mmask16>((1u << count) - 1); }

struct LoadF32 {
  static __m512 vec(const uint8_t* w, int64_t i) { return _mm512_loadu_ps(reinterpret_cast<const float*>(w) + i); }
  static float one(const uint8_t* w, int64_t i) { return load_f32(w + 4 * i); }
  // Elements i .. i + count - 1 (count < 16), zeros above; reads nothing past them.
  static __m512 part(const uint8_t* w, int64_t i, int64_t count) {
    return _mm512_maskz_loadu_ps(tail_mask(count), reinterpret_cast<const float*>(w) + i);
  }
};
struct LoadF16 {
  static __m512 vec(const uint8_t* w, int64_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 2 * i)));
  }
  static float one(const uint8_t* w, int64_t i) { return fp16_to_fp32(load_u16(w + 2 * i)); }
  static __m512 part(const uint8_t* w, int64_t i, int64_t count) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(tail_mask(count), w + 2 * i));
  }
};
struct LoadBF16 {  // bf16 is the top half of a float: widen to 32 bits and shift
  static __m512 vec(const uint8_t* w, int64_t i) {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 2 * i)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
  static float one(const uint8_t* w, int64_t i) { return bf16_to_fp32(load_u16(w + 2 * i)); }
  static __m512 part(const uint8_t* w, int64_t i, int64_t count) {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(tail_mask(count), w + 2 * i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
};

template <class Load, int NT>
void dot_float_tile(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, float* out) {
  constexpr int U = 4;
  const float* x[NT];
  for (int t = 0; t < NT; ++t) x[t] = reinterpret_cast<const float*>(act + t * stride);
  __m512 acc[NT][U];
  for (int t = 0; t < NT; ++t)
    for (int u = 0; u < U; ++u) acc[t][u] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 * U <= n; i += 16 * U) {
    for (int u = 0; u < U; ++u) {
      const __m512 wv = Load::vec(w, i + 16 * u);
      for (int t = 0; t < NT; ++t) acc[t][u] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x[t] + i + 16 * u), acc[t][u]);
    }
  }
  for (; i + 16 <= n; i += 16) {
    const __m512 wv = Load::vec(w, i);
    for (int t = 0; t < NT; ++t) acc[t][0] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x[t] + i), acc[t][0]);
  }
  for (int t = 0; t < NT; ++t) {
    __m512 s = acc[t][0];
    for (int u = 1; u < U; ++u) s = _mm512_add_ps(s, acc[t][u]);
    float r = _mm512_reduce_add_ps(s);
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

// Horizontal sums of 16 accumulators at once: lane 4 * j + k of the result is the sum of a[4 * k + j]. Each
// accumulator's lanes are paired exactly as _mm512_reduce_add_ps pairs them (i + 8, then + 4, then + 2, then + 1),
// so a dot has the same bits whichever tile computed it; 45 shuffles and adds instead of 16 separate reductions.
inline __m512 reduce16(const __m512 a[16]) {
  __m512 s[8], q[4], h[2];
  for (int k = 0; k < 8; ++k) {  // 256-bit halves: [a(2k) lanes 0-7 + 8-15, a(2k+1) lanes 0-7 + 8-15]
    s[k] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], 0x44),
                         _mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], 0xEE));
  }
  for (int k = 0; k < 4; ++k) {  // 128-bit quarters: [a(4k), a(4k+1), a(4k+2), a(4k+3)], 4 partial sums each
    q[k] = _mm512_add_ps(_mm512_shuffle_f32x4(s[2 * k], s[2 * k + 1], 0x88),
                         _mm512_shuffle_f32x4(s[2 * k], s[2 * k + 1], 0xDD));
  }
  for (int k = 0; k < 2; ++k) {  // within each quarter j: [a(8k+j) lanes 0+2, 1+3, a(8k+4+j) lanes 0+2, 1+3]
    h[k] = _mm512_add_ps(_mm512_shuffle_ps(q[2 * k], q[2 * k + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_ps(q[2 * k], q[2 * k + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  }
  return _mm512_add_ps(_mm512_shuffle_ps(h[0], h[1], _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_ps(h[0], h[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

// The zmm registers for dot-rows-tile.h: 16 accumulators (4 rows x 4 tokens, or 16 rows of one token).
struct Simd512 {
  using Vec = __m512;
  static constexpr int kLanes = 16, kSlots = 16, kSingleTokenRows = 16;
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static Vec load_part(const float* p, int64_t count) { return _mm512_maskz_loadu_ps(tail_mask(count), p); }
  static void reduce(const Vec acc[16], float* sums) { _mm512_store_ps(sums, reduce16(acc)); }
  static float reduce_one(Vec acc) { return _mm512_reduce_add_ps(acc); }
  static constexpr int lane_of(int slot) { return 4 * (slot % 4) + slot / 4; }
};

}  // namespace

void dot_rows_f32_avx512(int64_t n, const uint8_t* w, size_t w_stride, int64_t n_rows, const uint8_t* act,
                         size_t act_stride, int n_tok, float* y, size_t y_stride) {
  dot_rows<Simd512, LoadF32>(n, w, w_stride, n_rows, act, act_stride, n_tok, y, y_stride);
}
void dot_rows_f16_avx512(int64_t n, const uint8_t* w, size_t w_stride, int64_t n_rows, const uint8_t* act,
                         size_t act_stride, int n_tok, float* y, size_t y_stride) {
  dot_rows<Simd512, LoadF16>(n, w, w_stride, n_rows, act, act_stride, n_tok, y, y_stride);
}
void dot_rows_bf16_avx512(int64_t n, const uint8_t* w, size_t w_stride, int64_t n_rows, const uint8_t* act,
                          size_t act_stride, int n_tok, float* y, size_t y_stride) {
  dot_rows<Simd512, LoadBF16>(n, w, w_stride, n_rows, act, act_stride, n_tok, y, y_stride);
}

void dot_f32_avx512(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
  dot_float<LoadF32>(n, w, act, stride, n_tok, out);
}
void dot_f16_avx512(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
  dot_float<LoadF16>(n, w, act, stride, n_tok, out);
}
void dot_bf16_avx512(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
  dot_float<LoadBF16>(n, w, act, stride, n_tok, out);
}

void axpy_avx512(int64_t n, float a, const float* x, float* y) {
  const __m512 av = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  }
  if (i < n) {  // masked tail: no scalar loop, no read past the end
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m,
                          _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

// Activation quantisation is a small share of a matmul; the AVX2 version (valid on every AVX-512 CPU this
// table is used on) gives the same bytes.
void quantize_q8_0_avx512(const float* x, int64_t n, uint8_t* out) { quantize_q8_0_avx2(x, n, out); }
void quantize_q8_k_avx512(const float* x, int64_t n, uint8_t* out) { quantize_q8_k_avx2(x, n, out); }

}  // namespace sovren
