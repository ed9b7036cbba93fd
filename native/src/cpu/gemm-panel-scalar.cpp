// Scalar prompt-matmul micro-kernel (reference for the SIMD ones): 4 weight rows x 4 tokens per call; and the
// scalar entry of the per-ISA row dequantiser used to pack its panels.
#include "cpu/dequantize.h"
#include "cpu/dot-kernels.h"

namespace sovren {

extern const int kGemmRows_scalar = 4;
extern const int kGemmTokens_scalar = 4;

void gemm_panel_scalar(const float* panel, const float* x, int64_t kc, float* y, int64_t y_stride, int n_tok,
                       int n_rows, bool accumulate) {
  constexpr int R = 4, T = 4;
  float acc[T][R] = {};
  for (int64_t k = 0; k < kc; ++k) {
    for (int t = 0; t < T; ++t) {
      for (int r = 0; r < R; ++r) acc[t][r] += panel[k * R + r] * x[k * T + t];
    }
  }
  for (int t = 0; t < n_tok; ++t) {
    for (int r = 0; r < n_rows; ++r) y[t * y_stride + r] = (accumulate ? y[t * y_stride + r] : 0.0f) + acc[t][r];
  }
}

void dequantize_row_scalar(TensorType type, const uint8_t* src, float* dst, int64_t n) {
  dequantize_row(type, src, dst, n);
}

}  // namespace sovren
