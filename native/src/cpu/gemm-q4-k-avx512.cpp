// Packing for the Q4_K prompt GEMM (gemm-q4-k.h), and its kernel for AVX-512 CPUs without VNNI.
// GCC 12's AVX-512 intrinsic headers pass _mm512_undefined_*() values that trip -Wuninitialized once inlined
// (GCC bug 105593); the warnings are about the headers, not this code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "cpu/dot-kernels.h"
#include "cpu/fp16.h"
#include "cpu/gemm-q4-k-tile.h"

namespace sovren {
namespace {

struct DotBw {
  static __m512i u8x4(__m512i acc, __m512i a, __m512i b) {
    // maddubs cannot saturate here: a <= 255 and |b| <= 15, so a pair sums to at most 7650.
    return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(a, b), _mm512_set1_epi16(1)));
  }
  static __m512i i16x2(__m512i acc, __m512i a, __m512i b) { return _mm512_add_epi32(acc, _mm512_madd_epi16(a, b)); }
};

}  // namespace

void pack_q8_k_tile_avx512(int64_t n, const uint8_t* act, size_t act_stride, int n_tok, uint8_t* tile) {
  for (int64_t b = 0; b < n / 256; ++b) {
    uint8_t* dst = tile + static_cast<size_t>(b) * kQ4KTileBlockBytes;
    alignas(64) float d[16];
    alignas(64) int16_t bsum[4][16][2];
    for (int t = 0; t < kQ4KTileTokens; ++t) {
      if (t >= n_tok) {
        for (int k = 0; k < 64; ++k) std::memset(dst + (16 * k + t) * 4, 0x80, 4);
        d[t] = 0.0f;
        for (int i = 0; i < 4; ++i) bsum[i][t][0] = bsum[i][t][1] = 0;
        continue;
      }
      const uint8_t* src = act + static_cast<size_t>(t) * act_stride + static_cast<size_t>(b) * kQ8_KActBlockBytes;
      for (int k = 0; k < 64; ++k) {
        uint32_t v;
        std::memcpy(&v, src + 4 + 4 * k, 4);
        v ^= 0x80808080u;  // int8 a -> uint8 a + 128
        std::memcpy(dst + (16 * k + t) * 4, &v, 4);
      }
      d[t] = load_f32(src);
      int16_t bs[16];
      std::memcpy(bs, src + kQ8_KActBsumsOffset, sizeof bs);
      for (int i = 0; i < 4; ++i) {
        bsum[i][t][0] = static_cast<int16_t>(bs[4 * i] + bs[4 * i + 1]);
        bsum[i][t][1] = static_cast<int16_t>(bs[4 * i + 2] + bs[4 * i + 3]);
      }
    }
    std::memcpy(dst + kQ4KTileDOffset, d, sizeof d);
    std::memcpy(dst + kQ4KTileBsumOffset, bsum, sizeof bsum);
  }
}

void pack_q4_k_row_avx512(int64_t n, const uint8_t* row, uint8_t* packed) {
  const __m512i low4 = _mm512_set1_epi8(0x0F), zero = _mm512_setzero_si512();
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* src = row + static_cast<size_t>(b) * 144;
    uint8_t* dst = packed + static_cast<size_t>(b) * kQ4KRowBlockBytes;
    alignas(16) uint8_t sc[8], mn[8];
    q4_k_unpack_scales(src + 4, sc, mn);
    const __m512i sc64 = _mm512_cvtepu8_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc)));
    __m512i corr = zero;
    for (int half = 0; half < 2; ++half) {
      // qs chunk c (32 bytes) holds values 64c + [0, 32) in its low nibbles and 64c + [32, 64) in its high ones.
      const __m512i v = _mm512_loadu_si512(src + 16 + 64 * half);  // chunks 2 half and 2 half + 1
      const __m512i lo = _mm512_and_si512(v, low4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
      for (int j = 0; j < 2; ++j) {
        const int c = 2 * half + j;
        const __m512i values = j == 0 ? _mm512_shuffle_i64x2(lo, hi, 0x44) : _mm512_shuffle_i64x2(lo, hi, 0xEE);
        _mm512_store_si512(dst + 64 * c, values);
        // Sums of 8 values per 64-bit lane: lanes 0..3 are sub-block 2c, lanes 4..7 sub-block 2c + 1.
        const __m512i scale = _mm512_permutexvar_epi64(
            _mm512_set_epi64(2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c, 2 * c, 2 * c, 2 * c), sc64);
        corr = _mm512_add_epi64(corr, _mm512_mullo_epi64(_mm512_sad_epu8(values, zero), scale));
      }
    }
    int32_t scales[8];
    int16_t mins[8];
    for (int s = 0; s < 8; ++s) {
      scales[s] = sc[s];
      mins[s] = mn[s];
    }
    std::memcpy(dst + kQ4KRowScaleOffset, scales, sizeof scales);
    std::memcpy(dst + kQ4KRowMinOffset, mins, sizeof mins);
    store_f32(dst + kQ4KRowDOffset, _cvtsh_ss(load_u16(src)));
    store_f32(dst + kQ4KRowDminOffset, _cvtsh_ss(load_u16(src + 2)));
    const int32_t corr_value = static_cast<int32_t>(128 * _mm512_reduce_add_epi64(corr));
    std::memcpy(dst + kQ4KRowCorrOffset, &corr_value, sizeof corr_value);
    std::memset(dst + kQ4KRowCorrOffset + 4, 0, kQ4KRowBlockBytes - kQ4KRowCorrOffset - 4);
  }
}

void gemm_q4_k_avx512(int64_t n_blocks, const uint8_t* rows, size_t row_stride, int64_t n_rows, const uint8_t* tile,
                      int n_tok, float* y, size_t y_stride) {
  gemm_q4_k_rows<DotBw>(n_blocks, rows, row_stride, n_rows, tile, n_tok, y, y_stride);
}

}  // namespace sovren
