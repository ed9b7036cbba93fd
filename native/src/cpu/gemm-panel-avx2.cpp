// AVX2 + FMA prompt-matmul micro-kernel: 16 weight rows (2 ymm) x 6 tokens = 12 accumulators, which with the
// two weight vectors and one broadcast fills the 16 ymm registers.
#include <immintrin.h>

#include "cpu/dot-kernels.h"

namespace sovren {

extern const int kGemmRows_avx2 = 16;
extern const int kGemmTokens_avx2 = 6;

void gemm_panel_avx2(const float* panel, const float* x, int64_t kc, float* y, int64_t y_stride, int n_tok, int n_rows,
                     bool accumulate) {
  constexpr int R = 16, T = 6;
  __m256 c0[T], c1[T];
  for (int t = 0; t < T; ++t) c0[t] = c1[t] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 w0 = _mm256_load_ps(panel + k * R), w1 = _mm256_load_ps(panel + k * R + 8);
    for (int t = 0; t < T; ++t) {
      const __m256 xb = _mm256_broadcast_ss(x + k * T + t);
      c0[t] = _mm256_fmadd_ps(w0, xb, c0[t]);
      c1[t] = _mm256_fmadd_ps(w1, xb, c1[t]);
    }
  }
  for (int t = 0; t < n_tok; ++t) {
    float* yt = y + t * y_stride;
    if (n_rows == R) {
      if (accumulate) {
        c0[t] = _mm256_add_ps(c0[t], _mm256_loadu_ps(yt));
        c1[t] = _mm256_add_ps(c1[t], _mm256_loadu_ps(yt + 8));
      }
      _mm256_storeu_ps(yt, c0[t]);
      _mm256_storeu_ps(yt + 8, c1[t]);
    } else {  // last panel of a matrix whose row count is not a multiple of 16
      alignas(32) float tmp[R];
      _mm256_store_ps(tmp, c0[t]);
      _mm256_store_ps(tmp + 8, c1[t]);
      for (int r = 0; r < n_rows; ++r) yt[r] = (accumulate ? yt[r] : 0.0f) + tmp[r];
    }
  }
}

}  // namespace sovren
