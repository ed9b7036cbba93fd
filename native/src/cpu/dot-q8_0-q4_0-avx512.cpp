// AVX-512 (BW) dot kernels for Q8_0 and Q4_0 weights against Q8_0 activations: two 32-value blocks per zmm,
// each block scaled by its own d_w * d_a (the two 256-bit halves of the scale vector).
// GCC 12's AVX-512 intrinsic headers pass _mm512_undefined_*() values that trip -Wuninitialized once inlined
// (GCC bug 105593); the warnings are about the headers, not this code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "cpu/avx2-reductions.h"
#include "cpu/dot-kernels.h"
#include "cpu/fp16.h"

namespace sovren {
namespace {

// Sum of int8 products as 16 int32 lanes (4 pairs each): |w| unsigned times y with w's sign (no _mm512_sign_epi8).
inline __m512i dot_i8x64(__m512i w, __m512i y) {
  const __mmask64 negative = _mm512_movepi8_mask(w);
  const __m512i signed_y = _mm512_mask_sub_epi8(y, negative, _mm512_setzero_si512(), y);
  return _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_abs_epi8(w), signed_y), _mm512_set1_epi16(1));
}

inline __m256i dot_i8x32(__m256i w, __m256i y) {
  const __m256i products = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(y, w));
  return _mm256_madd_epi16(products, _mm256_set1_epi16(1));
}

inline __m512i join(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }

// Each weight type gives, for a pair of consecutive blocks: `values` (one block as 32 signed values, for an odd
// last block), `prepare` (both blocks in one zmm) and `dot` (the 16 int32 lane sums of prepared weights times the
// two activation blocks), plus kScaleIndex: which block (0 / 1) each int32 lane of `dot` belongs to.

// Q8_0 block { f16 d; i8 qs[32]; }: lanes 0..7 are block 0, 8..15 block 1.
struct Q8_0Weights {
  static constexpr size_t kBlockBytes = 34;
  static __m512i scale_index() { return _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1); }
  static __m256i values(const uint8_t* b) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2)); }
  static __m512i prepare(const uint8_t* b) { return join(values(b), values(b + kBlockBytes)); }
  static __m512i dot(__m512i w, __m512i y) { return dot_i8x64(w, y); }
};

// Q4_0 block { f16 d; u8 qs[16]; }: values 0..15 are the low nibbles, 16..31 the high nibbles, minus 8.
// The pair is unpacked as 128-bit lanes [block 0 low, block 1 low, block 0 high, block 1 high] (cheapest unpack);
// the activations are shuffled to the same order, and the -8 is applied as maddubs(q, y) - maddubs(8, y).
struct Q4_0Weights {
  static constexpr size_t kBlockBytes = 18;
  static __m512i scale_index() { return _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1); }
  static __m256i values(const uint8_t* b) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2));
    const __m256i nibbles =
        _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), _mm256_set1_epi8(0x0F));
    return _mm256_sub_epi8(nibbles, _mm256_set1_epi8(8));
  }
  static __m512i prepare(const uint8_t* b) {
    const __m256i both = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(b + kBlockBytes + 2),
                                             reinterpret_cast<const __m128i*>(b + 2));
    return _mm512_and_si512(join(both, _mm256_srli_epi16(both, 4)), _mm512_set1_epi8(0x0F));
  }
  static __m512i dot(__m512i q, __m512i y) {
    const __m512i y_ordered = _mm512_shuffle_i64x2(y, y, 0xD8);  // 128-bit lanes 0,1,2,3 -> 0,2,1,3
    const __m512i products =
        _mm512_sub_epi16(_mm512_maddubs_epi16(q, y_ordered), _mm512_maddubs_epi16(_mm512_set1_epi8(8), y_ordered));
    return _mm512_madd_epi16(products, _mm512_set1_epi16(1));
  }
};

inline __m256i act_values(const uint8_t* ab) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab + 4)); }

template <class Weights, int NT>
void dot_q8_act_tile(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, float* out) {
  constexpr size_t kWB = Weights::kBlockBytes, kAB = kQ8_0ActBlockBytes;
  const int64_t nb = n / 32;
  const __m512i scale_index = Weights::scale_index();
  __m512 acc[NT][2];
  for (int t = 0; t < NT; ++t) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
  int64_t b = 0;
  for (int u = 0; b + 2 <= nb; b += 2, u ^= 1) {
    const uint8_t* wb = w + b * kWB;
    // Both blocks' f16 scales converted in one instruction.
    const __m128 dw = _mm_cvtph_ps(_mm_insert_epi16(_mm_cvtsi32_si128(load_u16(wb)), load_u16(wb + kWB), 1));
    const __m512i wq = Weights::prepare(wb);
    for (int t = 0; t < NT; ++t) {
      const uint8_t* ab = act + t * stride + b * kAB;
      const __m512 sums = _mm512_cvtepi32_ps(Weights::dot(wq, join(act_values(ab), act_values(ab + kAB))));
      const __m128 d = _mm_mul_ps(dw, _mm_setr_ps(load_f32(ab), load_f32(ab + kAB), 0.0f, 0.0f));
      const __m512 scale = _mm512_permutexvar_ps(scale_index, _mm512_castps128_ps512(d));
      acc[t][u] = _mm512_fmadd_ps(scale, sums, acc[t][u]);
    }
  }
  for (int t = 0; t < NT; ++t) {
    float r = _mm512_reduce_add_ps(_mm512_add_ps(acc[t][0], acc[t][1]));
    if (b < nb) {  // odd block count: last block with 256-bit vectors
      const uint8_t* wb = w + b * kWB;
      const uint8_t* ab = act + t * stride + b * kAB;
      const __m256 sums = _mm256_cvtepi32_ps(dot_i8x32(Weights::values(wb), act_values(ab)));
      r += _cvtsh_ss(load_u16(wb)) * load_f32(ab) * hsum_f32x8(sums);
    }
    out[t] = r;
  }
}

template <class Weights>
void dot_q8_act(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
  switch (n_tok) {
    case 1:
      return dot_q8_act_tile<Weights, 1>(n, w, act, stride, out);
    case 2:
      return dot_q8_act_tile<Weights, 2>(n, w, act, stride, out);
    case 3:
      return dot_q8_act_tile<Weights, 3>(n, w, act, stride, out);
    default:
      return dot_q8_act_tile<Weights, 4>(n, w, act, stride, out);
  }
}

}  // namespace

void dot_q8_0_avx512(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
  dot_q8_act<Q8_0Weights>(n, w, act, stride, n_tok, out);
}
void dot_q4_0_avx512(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
  dot_q8_act<Q4_0Weights>(n, w, act, stride, n_tok, out);
}

}  // namespace sovren
