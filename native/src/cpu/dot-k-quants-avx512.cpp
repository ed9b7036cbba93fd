// AVX-512 (BW) dot kernels for Q4_K and Q6_K against Q8_K activations: as dot-k-quants-avx2.cpp, with 64 values
// per zmm; per-sub-block scales are spread over the zmm's lanes before madd.
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

inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m512i load512(const uint8_t* p) { return _mm512_loadu_si512(p); }
inline __m512i join(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }

// Q4_K block { f16 d; f16 dmin; u8 scales[12]; u8 qs[128]; }: qs chunk c (32 bytes) gives values 64c..64c+31 in
// its low nibbles and 64c+32..64c+63 in its high nibbles, i.e. one zmm of 64 values in order.
template <int NT>
void dot_q4_k_tile(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, float* out) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512 acc[NT];
  __m256 acc_min[NT];
  for (int t = 0; t < NT; ++t) {
    acc[t] = _mm512_setzero_ps();
    acc_min[t] = _mm256_setzero_ps();
  }
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* wb = w + b * 144;
    const float d = _cvtsh_ss(load_u16(wb)), dmin = _cvtsh_ss(load_u16(wb + 2));
    alignas(16) uint8_t sc[8], mn[16];
    q4_k_unpack_scales(wb + 4, sc, mn);
    const __m256i mins_pairs =
        _mm256_cvtepu8_epi16(_mm_shuffle_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(mn)),
                                              _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7)));
    __m512i q[4], scale[4];
    for (int c = 0; c < 4; ++c) {
      const __m256i v = load256(wb + 16 + 32 * c);
      q[c] = _mm512_and_si512(join(v, _mm256_srli_epi16(v, 4)), low4);
      scale[c] = join(_mm256_set1_epi16(sc[2 * c]), _mm256_set1_epi16(sc[2 * c + 1]));
    }
    for (int t = 0; t < NT; ++t) {
      const uint8_t* ab = act + t * stride + b * kQ8_KActBlockBytes;
      __m512i sumi = _mm512_setzero_si512();
      for (int c = 0; c < 4; ++c) {
        sumi =
            _mm512_add_epi32(sumi, _mm512_madd_epi16(_mm512_maddubs_epi16(q[c], load512(ab + 4 + 64 * c)), scale[c]));
      }
      const __m256i msum = _mm256_madd_epi16(load256(ab + kQ8_KActBsumsOffset), mins_pairs);
      const float da = load_f32(ab);
      acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(d * da), _mm512_cvtepi32_ps(sumi), acc[t]);
      acc_min[t] = _mm256_fmadd_ps(_mm256_set1_ps(dmin * da), _mm256_cvtepi32_ps(msum), acc_min[t]);
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = _mm512_reduce_add_ps(acc[t]) - hsum_f32x8(acc_min[t]);
}

// Q6_K block { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d; }: half h gives two zmm of 64 unsigned 6-bit values,
// values 128h + [0, 64) from the low nibbles of ql[64h .. 64h+63] and 128h + [64, 128) from their high nibbles,
// with the top 2 bits from qh (shift 0 / 2 for the first zmm's halves, 4 / 6 for the second's).
template <int NT>
void dot_q6_k_tile(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, float* out) {
  const __m512i low4 = _mm512_set1_epi8(0x0F), low2 = _mm512_set1_epi8(0x03);
  // Lane i of zmm k belongs to sub-block 4k + i / 8 (8 int16 lanes per 16-value sub-block).
  __m512i scale_index[4];
  for (int k = 0; k < 4; ++k) {
    alignas(64) int16_t idx[32];
    for (int i = 0; i < 32; ++i) idx[i] = static_cast<int16_t>(4 * k + i / 8);
    scale_index[k] = _mm512_load_si512(idx);
  }
  __m512 acc[NT];
  __m256 acc_offset[NT];
  for (int t = 0; t < NT; ++t) {
    acc[t] = _mm512_setzero_ps();
    acc_offset[t] = _mm256_setzero_ps();
  }
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* wb = w + b * 210;
    const float d = _cvtsh_ss(load_u16(wb + 208));
    const __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb + 192)));
    __m512i q[4], scale[4];
    for (int half = 0; half < 2; ++half) {
      const __m512i l = load512(wb + 64 * half);
      const __m256i h = load256(wb + 128 + 32 * half);
      const __m512i h01 = join(h, _mm256_srli_epi16(h, 2)),
                    h23 = join(_mm256_srli_epi16(h, 4), _mm256_srli_epi16(h, 6));
      q[2 * half] = _mm512_or_si512(_mm512_and_si512(l, low4), _mm512_slli_epi16(_mm512_and_si512(h01, low2), 4));
      q[2 * half + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), low4),
                                        _mm512_slli_epi16(_mm512_and_si512(h23, low2), 4));
    }
    for (int k = 0; k < 4; ++k) scale[k] = _mm512_permutexvar_epi16(scale_index[k], _mm512_castsi256_si512(scales16));
    for (int t = 0; t < NT; ++t) {
      const uint8_t* ab = act + t * stride + b * kQ8_KActBlockBytes;
      __m512i sumi = _mm512_setzero_si512();
      for (int k = 0; k < 4; ++k) {
        sumi =
            _mm512_add_epi32(sumi, _mm512_madd_epi16(_mm512_maddubs_epi16(q[k], load512(ab + 4 + 64 * k)), scale[k]));
      }
      // 32 * sum_s scales[s] * bsum[s]: the -32 offset of every value.
      const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(load256(ab + kQ8_KActBsumsOffset), scales16), 5);
      const __m256 dd = _mm256_set1_ps(d * load_f32(ab));
      acc[t] = _mm512_fmadd_ps(_mm512_broadcastss_ps(_mm256_castps256_ps128(dd)), _mm512_cvtepi32_ps(sumi), acc[t]);
      acc_offset[t] = _mm256_fmadd_ps(dd, _mm256_cvtepi32_ps(offset), acc_offset[t]);
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = _mm512_reduce_add_ps(acc[t]) - hsum_f32x8(acc_offset[t]);
}

}  // namespace

void dot_q4_k_avx512(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
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

void dot_q6_k_avx512(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
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
