// The Q4_K prompt GEMM kernel (gemm-q4-k.h) with AVX512-VNNI: vpdpbusd does 64 byte products into 16 int32 lanes.
// GCC 12's AVX-512 intrinsic headers pass _mm512_undefined_*() values that trip -Wuninitialized once inlined
// (GCC bug 105593); the warnings are about the headers, not this code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "cpu/gemm-q4-k-tile.h"

namespace sovren {
namespace {

struct DotVnni {
  static __m512i u8x4(__m512i acc, __m512i a, __m512i b) { return _mm512_dpbusd_epi32(acc, a, b); }
  static __m512i i16x2(__m512i acc, __m512i a, __m512i b) { return _mm512_dpwssd_epi32(acc, a, b); }
};

}  // namespace

void gemm_q4_k_avx512vnni(int64_t n_blocks, const uint8_t* rows, size_t row_stride, int64_t n_rows, const uint8_t* tile,
                          int n_tok, float* y, size_t y_stride) {
  gemm_q4_k_rows<DotVnni>(n_blocks, rows, row_stride, n_rows, tile, n_tok, y, y_stride);
}

}  // namespace sovren
