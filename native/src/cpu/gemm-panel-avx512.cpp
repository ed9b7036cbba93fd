// AVX-512 prompt-matmul micro-kernel: 32 weight rows (2 zmm) x 12 tokens = 24 accumulators; each k step is
// 2 weight loads and 12 broadcasts for 24 FMAs, so the FMA units, not the loads, set the pace.
#pragma GCC diagnostic ignored "-Wuninitialized"  // GCC 12 AVX-512 header false positives (GCC bug 105593)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "cpu/dot-kernels.h"

namespace sovren {

extern const int kGemmRows_avx512 = 32;
extern const int kGemmTokens_avx512 = 12;

void gemm_panel_avx512(const float* panel, const float* x, int64_t kc, float* y, int64_t y_stride, int n_tok,
                       int n_rows, bool accumulate) {
  constexpr int R = 32, T = 12;
  __m512 c0[T], c1[T];
  for (int t = 0; t < T; ++t) c0[t] = c1[t] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 w0 = _mm512_load_ps(panel + k * R), w1 = _mm512_load_ps(panel + k * R + 16);
    for (int t = 0; t < T; ++t) {
      const __m512 xb = _mm512_set1_ps(x[k * T + t]);
      c0[t] = _mm512_fmadd_ps(w0, xb, c0[t]);
      c1[t] = _mm512_fmadd_ps(w1, xb, c1[t]);
    }
  }
  const __mmask16 m0 = n_rows >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << n_rows) - 1);
  const __mmask16 m1 = n_rows >= 32 ? 0xFFFF : n_rows <= 16 ? 0 : static_cast<__mmask16>((1u << (n_rows - 16)) - 1);
  for (int t = 0; t < n_tok; ++t) {
    float* yt = y + t * y_stride;
    if (accumulate) {
      c0[t] = _mm512_add_ps(c0[t], _mm512_maskz_loadu_ps(m0, yt));
      c1[t] = _mm512_add_ps(c1[t], _mm512_maskz_loadu_ps(m1, yt + 16));
    }
    _mm512_mask_storeu_ps(yt, m0, c0[t]);
    _mm512_mask_storeu_ps(yt + 16, m1, c1[t]);
  }
}

// Panel packing is a small share of a prompt matmul: the AVX2 dequantiser serves the AVX-512 table too.
void dequantize_row_avx512(TensorType type, const uint8_t* src, float* dst, int64_t n) {
  dequantize_row_avx2(type, src, dst, n);
}

}  // namespace sovren
