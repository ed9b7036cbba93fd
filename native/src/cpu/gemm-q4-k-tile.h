// The Q4_K prompt GEMM kernel (gemm-q4-k.h) written once for both ways of doing the integer dot: AVX512-VNNI
// (vpdpbusd / vpdpwssd) and AVX-512 BW (maddubs + madd). Include it only from gemm-q4-k-avx512*.cpp: it needs their
// compile flags, and each gets its own copy.
//
// `Dot` provides u8x4(acc, a, b): acc + per lane sum of 4 unsigned bytes of a times 4 signed bytes of b, and
// i16x2(acc, a, b): acc + per lane sum of 2 int16 products.
#pragma once
#include <immintrin.h>

#include <cstring>

#include "cpu/gemm-q4-k.h"

namespace sovren {
namespace {

inline __m512i broadcast_u32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm512_set1_epi32(v);
}

inline __m512 broadcast_f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, sizeof v);
  return _mm512_set1_ps(v);
}

// R packed rows x the 16 tokens of one tile, every block; one float accumulator per row (lanes = tokens).
template <class Dot, int R>
void gemm_q4_k_row_tile(int64_t n_blocks, const uint8_t* rows, size_t row_stride, const uint8_t* tile, int n_tok,
                        float* y, size_t y_stride) {
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  const __m512i zero = _mm512_setzero_si512();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* a = tile + static_cast<size_t>(b) * kQ4KTileBlockBytes;
    const uint8_t* w[R];
    for (int r = 0; r < R; ++r)
      w[r] = rows + static_cast<size_t>(r) * row_stride + static_cast<size_t>(b) * kQ4KRowBlockBytes;
    __m512i isum[R];
    for (int r = 0; r < R; ++r) isum[r] = zero;
    for (int s = 0; s < 8; ++s) {
      __m512i av[8];
      for (int k = 0; k < 8; ++k) av[k] = _mm512_load_si512(a + (8 * s + k) * 64);
      for (int r = 0; r < R; ++r) {
        const uint8_t* wq = w[r] + 32 * s;
        // Two chains so consecutive dot instructions do not wait on each other.
        __m512i c0 = Dot::u8x4(zero, av[0], broadcast_u32(wq));
        __m512i c1 = Dot::u8x4(zero, av[1], broadcast_u32(wq + 4));
        c0 = Dot::u8x4(c0, av[2], broadcast_u32(wq + 8));
        c1 = Dot::u8x4(c1, av[3], broadcast_u32(wq + 12));
        c0 = Dot::u8x4(c0, av[4], broadcast_u32(wq + 16));
        c1 = Dot::u8x4(c1, av[5], broadcast_u32(wq + 20));
        c0 = Dot::u8x4(c0, av[6], broadcast_u32(wq + 24));
        c1 = Dot::u8x4(c1, av[7], broadcast_u32(wq + 28));
        const __m512i scale = broadcast_u32(w[r] + kQ4KRowScaleOffset + 4 * s);
        isum[r] = _mm512_add_epi32(isum[r], _mm512_mullo_epi32(_mm512_add_epi32(c0, c1), scale));
      }
    }
    const __m512 da = _mm512_load_ps(reinterpret_cast<const float*>(a + kQ4KTileDOffset));
    const uint8_t* bsum = a + kQ4KTileBsumOffset;
    const __m512i bsum01 = _mm512_load_si512(bsum), bsum23 = _mm512_load_si512(bsum + 64),
                  bsum45 = _mm512_load_si512(bsum + 128), bsum67 = _mm512_load_si512(bsum + 192);
    for (int r = 0; r < R; ++r) {
      const uint8_t* mins = w[r] + kQ4KRowMinOffset;
      const __m512i m0 = Dot::i16x2(Dot::i16x2(zero, bsum01, broadcast_u32(mins)), bsum23, broadcast_u32(mins + 4));
      const __m512i m1 =
          Dot::i16x2(Dot::i16x2(zero, bsum45, broadcast_u32(mins + 8)), bsum67, broadcast_u32(mins + 12));
      const __m512i q = _mm512_sub_epi32(isum[r], broadcast_u32(w[r] + kQ4KRowCorrOffset));
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(q), _mm512_mul_ps(da, broadcast_f32(w[r] + kQ4KRowDOffset)), acc[r]);
      acc[r] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(m0, m1)),
                                _mm512_mul_ps(da, broadcast_f32(w[r] + kQ4KRowDminOffset)), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) {
    alignas(64) float out[16];
    _mm512_store_ps(out, acc[r]);
    for (int t = 0; t < n_tok; ++t) y[static_cast<size_t>(t) * y_stride + static_cast<size_t>(r)] = out[t];
  }
}

template <class Dot>
void gemm_q4_k_rows(int64_t n_blocks, const uint8_t* rows, size_t row_stride, int64_t n_rows, const uint8_t* tile,
                    int n_tok, float* y, size_t y_stride) {
  int64_t r = 0;
  for (; r + 4 <= n_rows; r += 4) {
    gemm_q4_k_row_tile<Dot, 4>(n_blocks, rows + static_cast<size_t>(r) * row_stride, row_stride, tile, n_tok, y + r,
                               y_stride);
  }
  const uint8_t* rest = rows + static_cast<size_t>(r) * row_stride;
  switch (n_rows - r) {
    case 3:
      return gemm_q4_k_row_tile<Dot, 3>(n_blocks, rest, row_stride, tile, n_tok, y + r, y_stride);
    case 2:
      return gemm_q4_k_row_tile<Dot, 2>(n_blocks, rest, row_stride, tile, n_tok, y + r, y_stride);
    case 1:
      return gemm_q4_k_row_tile<Dot, 1>(n_blocks, rest, row_stride, tile, n_tok, y + r, y_stride);
    default:
      return;
  }
}

}  // namespace
}  // namespace sovren
