// AVX2 dot kernels for the K-quants (Q4_K, Q6_K) against Q8_K activations. Each weight block is unpacked into
// registers once (unsigned 4- or 6-bit values) and multiplied into every token of the tile with maddubs; the
// per-sub-block scales are applied by madd, mins / the -32 offset through the activation's 16-value sums.
#include <immintrin.h>

#include "cpu/avx2-reductions.h"
#include "cpu/dot-kernels.h"
#include "cpu/fp16.h"

namespace sovren {
namespace {

inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// Q4_K block { f16 d; f16 dmin; u8 scales[12]; u8 qs[128]; } (layout in dequantize.cpp): qs chunk c holds
// sub-block 2c (values 64c..64c+31) in low nibbles and sub-block 2c+1 (values 64c+32..64c+63) in high nibbles.
template <int NT>
void dot_q4_k_tile(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, float* out) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc[NT], acc_min[NT];
  for (int t = 0; t < NT; ++t) acc[t] = acc_min[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* wb = w + b * 144;
    const float d = _cvtsh_ss(load_u16(wb)), dmin = _cvtsh_ss(load_u16(wb + 2));
    alignas(16) uint8_t sc[8], mn[16];
    q4_k_unpack_scales(wb + 4, sc, mn);
    // mins[s] repeated for both 16-value halves of sub-block s, to madd against the activation's bsums.
    const __m256i mins_pairs =
        _mm256_cvtepu8_epi16(_mm_shuffle_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(mn)),
                                              _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7)));
    __m256i lo[4], hi[4];
    for (int c = 0; c < 4; ++c) {
      const __m256i v = load256(wb + 16 + 32 * c);
      lo[c] = _mm256_and_si256(v, low4);
      hi[c] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
    }
    for (int t = 0; t < NT; ++t) {
      const uint8_t* ab = act + t * stride + b * kQ8_KActBlockBytes;
      const uint8_t* y = ab + 4;
      __m256i sumi = _mm256_setzero_si256();
      for (int c = 0; c < 4; ++c) {
        const __m256i p0 =
            _mm256_madd_epi16(_mm256_maddubs_epi16(lo[c], load256(y + 64 * c)), _mm256_set1_epi16(sc[2 * c]));
        const __m256i p1 =
            _mm256_madd_epi16(_mm256_maddubs_epi16(hi[c], load256(y + 64 * c + 32)), _mm256_set1_epi16(sc[2 * c + 1]));
        sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
      }
      const __m256i msum = _mm256_madd_epi16(load256(ab + kQ8_KActBsumsOffset), mins_pairs);
      const float da = load_f32(ab);
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * da), _mm256_cvtepi32_ps(sumi), acc[t]);
      acc_min[t] = _mm256_fmadd_ps(_mm256_set1_ps(dmin * da), _mm256_cvtepi32_ps(msum), acc_min[t]);
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = hsum_f32x8(_mm256_sub_ps(acc[t], acc_min[t]));
}

// Q6_K block { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d; } (layout in dequantize.cpp). Unpacked into 8 vectors
// of 32 unsigned 6-bit values; vector k covers sub-blocks 2k and 2k+1 (16 values each, one per 128-bit lane).
template <int NT>
void dot_q6_k_tile(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, float* out) {
  const __m256i low4 = _mm256_set1_epi8(0x0F), low2 = _mm256_set1_epi8(0x03);
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* wb = w + b * 210;
    const float d = _cvtsh_ss(load_u16(wb + 208));
    const auto* scales = reinterpret_cast<const int8_t*>(wb + 192);
    const __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales)));
    __m256i q[8];
    for (int half = 0; half < 2; ++half) {
      const __m256i a = load256(wb + 64 * half), c = load256(wb + 64 * half + 32);
      const __m256i h = load256(wb + 128 + 32 * half);
      const auto high = [&](int shift) {
        return _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, shift), low2), 4);
      };
      q[4 * half + 0] = _mm256_or_si256(_mm256_and_si256(a, low4), high(0));
      q[4 * half + 1] = _mm256_or_si256(_mm256_and_si256(c, low4), high(2));
      q[4 * half + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), low4), high(4));
      q[4 * half + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(c, 4), low4), high(6));
    }
    for (int t = 0; t < NT; ++t) {
      const uint8_t* ab = act + t * stride + b * kQ8_KActBlockBytes;
      const uint8_t* y = ab + 4;
      // 32 * sum_s scales[s] * bsum[s]: the -32 offset of every value, removed in one step.
      __m256i sumi = _mm256_slli_epi32(_mm256_madd_epi16(load256(ab + kQ8_KActBsumsOffset), scales16), 5);
      sumi = _mm256_sub_epi32(_mm256_setzero_si256(), sumi);
      for (int k = 0; k < 8; ++k) {
        const __m256i scale = _mm256_set_m128i(_mm_set1_epi16(scales[2 * k + 1]), _mm_set1_epi16(scales[2 * k]));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], load256(y + 32 * k)), scale));
      }
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * load_f32(ab)), _mm256_cvtepi32_ps(sumi), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = hsum_f32x8(acc[t]);
}

}  // namespace

void dot_q4_k_avx2(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
  switch (n_tok) {
    case 1:
      return dot_q4_k_tile<1>(n, w, act, stride, out);
    case 2:
      return dot_q4_k_tile<2>(n, w, act, stride, out);
    case 3:
      return dot_q4_k_tile<3>(n, w, act, stride, out);
    default:
      return dot_q4_k_tile<4>(n, w, act, stride, out);
  }
}

void dot_q6_k_avx2(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
  switch (n_tok) {
    case 1:
      return dot_q6_k_tile<1>(n, w, act, stride, out);
    case 2:
      return dot_q6_k_tile<2>(n, w, act, stride, out);
    case 3:
      return dot_q6_k_tile<3>(n, w, act, stride, out);
    default:
      return dot_q6_k_tile<4>(n, w, act, stride, out);
  }
}

}  // namespace sovren
