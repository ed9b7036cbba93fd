// AVX2 dot kernels for Q8_0 and Q4_0 weights against Q8_0 activations, and the activation quantisers.
// Per 32-value block: integer dot with maddubs (|w| unsigned x sign-adjusted activation), scaled once by d_w * d_a.
#include <immintrin.h>

#include "cpu/avx2-reductions.h"
#include "cpu/dot-kernels.h"
#include "cpu/fp16.h"

namespace sovren {
namespace {

// Sum over 32 int8 pairs as 8 int32 lanes. maddubs needs an unsigned first operand: use |w| and move w's sign
// onto y (|w| of -128 is 128 as unsigned, still exact; pair sums stay below the int16 limit).
inline __m256i dot_i8x32(__m256i w, __m256i y) {
  const __m256i products = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(y, w));
  return _mm256_madd_epi16(products, _mm256_set1_epi16(1));
}

// Q8_0 block { f16 d; i8 qs[32]; } -> 32 signed values.
struct Q8_0Weights {
  static constexpr size_t kBlockBytes = 34;
  static __m256i values(const uint8_t* b) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2)); }
};
// Q4_0 block { f16 d; u8 qs[16]; }: values 0..15 are the low nibbles, 16..31 the high nibbles, minus 8.
struct Q4_0Weights {
  static constexpr size_t kBlockBytes = 18;
  static __m256i values(const uint8_t* b) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2));
    const __m256i nibbles =
        _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), _mm256_set1_epi8(0x0F));
    return _mm256_sub_epi8(nibbles, _mm256_set1_epi8(8));
  }
};

template <class Weights, int NT>
void dot_q8_act_tile(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, float* out) {
  const int64_t nb = n / 32;
  __m256 acc[NT][2];  // two accumulators per token (even / odd blocks) to hide FMA latency
  for (int t = 0; t < NT; ++t) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* wb = w + b * Weights::kBlockBytes;
    const float dw = _cvtsh_ss(load_u16(wb));
    const __m256i wq = Weights::values(wb);
    for (int t = 0; t < NT; ++t) {
      const uint8_t* ab = act + t * stride + b * kQ8_0ActBlockBytes;
      const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab + 4));
      const __m256 sums = _mm256_cvtepi32_ps(dot_i8x32(wq, y));
      acc[t][b & 1] = _mm256_fmadd_ps(_mm256_set1_ps(dw * load_f32(ab)), sums, acc[t][b & 1]);
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = hsum_f32x8(_mm256_add_ps(acc[t][0], acc[t][1]));
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

// 32 floats -> 32 int8 = round-to-nearest-even(x / d), same bytes as the scalar quantiser (IEEE division,
// cvtps rounds with the default nearest-even mode).
inline void quantize_32(const float* x, float d, int8_t* q) {
  if (d == 0.0f) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), _mm256_setzero_si256());
    return;
  }
  const __m256 dv = _mm256_set1_ps(d);
  const __m256i i0 = _mm256_cvtps_epi32(_mm256_div_ps(_mm256_loadu_ps(x + 0), dv));
  const __m256i i1 = _mm256_cvtps_epi32(_mm256_div_ps(_mm256_loadu_ps(x + 8), dv));
  const __m256i i2 = _mm256_cvtps_epi32(_mm256_div_ps(_mm256_loadu_ps(x + 16), dv));
  const __m256i i3 = _mm256_cvtps_epi32(_mm256_div_ps(_mm256_loadu_ps(x + 24), dv));
  // packs work per 128-bit lane: the permute restores element order.
  const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
  const __m256i ordered = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), ordered);
}

inline float max_abs(const float* x, int count) {
  __m256 m = _mm256_setzero_ps();
  for (int j = 0; j < count; j += 8)
    m = _mm256_max_ps(m, _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_loadu_ps(x + j)));
  return max_abs_f32x8(m);
}

}  // namespace

void dot_q8_0_avx2(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
  dot_q8_act<Q8_0Weights>(n, w, act, stride, n_tok, out);
}
void dot_q4_0_avx2(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
  dot_q8_act<Q4_0Weights>(n, w, act, stride, n_tok, out);
}

void quantize_q8_0_avx2(const float* x, int64_t n, uint8_t* out) {
  for (int64_t b = 0; b < n / 32; ++b, x += 32, out += kQ8_0ActBlockBytes) {
    const float d = max_abs(x, 32) / 127.0f;
    store_f32(out, d);
    quantize_32(x, d, reinterpret_cast<int8_t*>(out + 4));
  }
}

void quantize_q8_k_avx2(const float* x, int64_t n, uint8_t* out) {
  for (int64_t b = 0; b < n / 256; ++b, x += 256, out += kQ8_KActBlockBytes) {
    const float d = max_abs(x, 256) / 127.0f;
    store_f32(out, d);
    auto* q = reinterpret_cast<int8_t*>(out + 4);
    for (int j = 0; j < 256; j += 32) quantize_32(x + j, d, q + j);
    // bsums: sums of 16 int8 via maddubs with ones (unsigned 1 x signed q), then pairs of int16.
    for (int j = 0; j < 256; j += 32) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + j));
      const __m256i s32 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), v), _mm256_set1_epi16(1));
      // s32 lanes: 4 values each; lanes 0..3 are values 0..15 (sum 0), lanes 4..7 values 16..31 (sum 1).
      const int sum0 = hsum_i32x8(_mm256_blend_epi32(s32, _mm256_setzero_si256(), 0xF0));
      const int sum1 = hsum_i32x8(_mm256_blend_epi32(s32, _mm256_setzero_si256(), 0x0F));
      const int16_t sums[2] = {static_cast<int16_t>(sum0), static_cast<int16_t>(sum1)};
      std::memcpy(out + kQ8_KActBsumsOffset + 2 * (j / 16), sums, sizeof sums);
    }
  }
}

}  // namespace sovren
