// Dot-product kernels that read weight rows in their stored (quantised) form, one set per instruction set.
// Activations are prepared once per matmul in the format each weight type pairs with (like ggml's vec_dot_type):
//   F32 / F16 / BF16 weights  <-> float32 activations (kept as they are)
//   Q4_0 / Q8_0 weights       <-> Q8_0 activation blocks: 32 values in 36 bytes { f32 d; i8 qs[32]; }
//   Q4_K / Q6_K weights       <-> Q8_K activation blocks: 256 values in 292 bytes { f32 d; i8 qs[256]; i16 bsums[16]; }
//                                 (bsums[j] = sum of qs[16j .. 16j+15], used for the K-quant mins / offsets)
// so quantised dots are integer multiply-adds per block, scaled once per block.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "cpu/cpu-isa.h"
#include "cpu/gemm-q4-k.h"
#include "tensor/tensor-type.h"

namespace sovren {

enum class ActivationFormat { F32, Q8_0, Q8_K };

constexpr size_t kQ8_0ActBlockBytes = 36;
constexpr size_t kQ8_KActBlockBytes = 292;
constexpr size_t kQ8_KActBsumsOffset = 260;

// Most tokens one kernel call dots a weight row against (the row is loaded once for all of them).
constexpr int kMaxTokenTile = 4;

ActivationFormat activation_format(TensorType weight_type);
// Bytes of one prepared activation row of n values (n a whole number of the format's blocks).
size_t activation_row_bytes(ActivationFormat format, int64_t n);

// out[t] = dot(weight row w_row of n elements, activation row t), for t < n_tok (1..kMaxTokenTile); activation row t
// starts at act + t * act_stride bytes.
using DotFn = void (*)(int64_t n, const uint8_t* w_row, const uint8_t* act, size_t act_stride, int n_tok, float* out);
// Many weight rows against up to kMaxTokenTile activation rows (float weights: F32 / F16 / BF16 with float32
// activations): y[t * y_stride + r] = dot(weight row r, activation row t) for r < n_rows, t < n_tok; weight row r
// starts at w + r * w_stride. The SIMD versions keep one accumulator per (row, token) in a register tile of several
// rows x tokens, so each weight vector serves every token and each activation vector every row of the tile, and
// reduce the tile's accumulators together. Every dot is summed in the same order whatever n_rows and n_tok are: a
// sequence's logits do not depend on which other sequences share its batched step. (Single-token matmuls use the
// per-row DotFn, which streams each row with several accumulators and so rounds differently in the last bits.)
using DotRowsFn = void (*)(int64_t n, const uint8_t* w, size_t w_stride, int64_t n_rows, const uint8_t* act,
                           size_t act_stride, int n_tok, float* y, size_t y_stride);
// Prepare one activation row (Q8_0 or Q8_K) from n floats; round to nearest even, d = max|x| / 127.
using QuantizeActFn = void (*)(const float* x, int64_t n, uint8_t* out);
// y[i] += a * x[i]
using AxpyFn = void (*)(int64_t n, float a, const float* x, float* y);
// Prompt matmul micro-kernel. panel[k * gemm_rows + r] = W[r0 + r][k0 + k] (dequantised weights, packed),
// x[k * gemm_tokens + t] = activation of token t0 + t at column k0 + k (packed, zero-padded). For t < n_tok and
// r < n_rows: y[t * y_stride + r] (accumulate ? += : =) sum_{k < kc} panel[k * gemm_rows + r] * x[k * gemm_tokens + t].
// Every weight vector loaded serves gemm_tokens tokens from registers. Both pointers are 64-byte aligned.
using GemmPanelFn = void (*)(const float* panel, const float* x, int64_t kc, float* y, int64_t y_stride, int n_tok,
                             int n_rows, bool accumulate);

// Attention of prompt rows (attention-avx512.cpp). Keys of one kv head are first transposed into blocks of 16:
// kt[b][d][i] = key 16 b + i at dimension d (zero past n_keys), key j at k + j * k_stride; kt 64-byte aligned.
using TransposeKeysFn = void (*)(const float* k, size_t k_stride, int n_keys, int hd, float* kt);
// Then for the n_heads query heads of one row that share that kv head (q and out: n_heads x hd, contiguous):
// out_h = sum_j softmax_j(scale * q_h . key j) * value j over keys j < n_att, value j at v + j * v_stride.
// scores: 64-byte aligned scratch of n_heads x (n_att rounded up to 16) floats.
using AttendHeadsFn = void (*)(const float* q, int n_heads, int hd, const float* kt, const float* v, size_t v_stride,
                               int n_att, float scale, float* scores, float* out);

// Dequantise n values of a row (whole blocks) to float; same values as dequantize_row (dequantize.h).
using DequantizeRowFn = void (*)(TensorType type, const uint8_t* src, float* dst, int64_t n);

struct CpuKernels {
  CpuIsa isa;
  DotFn dot_f32, dot_f16, dot_bf16, dot_q4_0, dot_q8_0, dot_q4_k, dot_q6_k;
  DotRowsFn dot_rows_f32, dot_rows_f16, dot_rows_bf16;
  QuantizeActFn quantize_q8_0, quantize_q8_k;
  AxpyFn axpy;
  GemmPanelFn gemm_panel;
  int gemm_rows;    // rows per packed panel
  int gemm_tokens;  // most tokens per gemm_panel call
  DequantizeRowFn dequantize_row;
  // Q4_K prompt GEMM (gemm-q4-k.h); nullptr where the instruction set has none (Q4_K prompts then use dot_q4_k).
  PackQ8KTileFn pack_q8_k_tile = nullptr;
  PackQ4KRowFn pack_q4_k_row = nullptr;
  GemmQ4KFn gemm_q4_k = nullptr;
  // Attention of many rows against one cache (prompts); nullptr where the instruction set has none.
  TransposeKeysFn transpose_keys = nullptr;
  AttendHeadsFn attend_heads = nullptr;

  DotFn dot_for(TensorType type) const;
  // The row-tiled kernel for float weight types; nullptr for quantised types (they use dot_for per row).
  DotRowsFn dot_rows_for(TensorType type) const;
  // Prepare activation row of n floats for weights of `type` (no-op format F32 is not accepted here).
  void quantize_activation(ActivationFormat format, const float* x, int64_t n, uint8_t* out) const;
};

// Kernels of one instruction set (must be supported: see cpu_isa_supported).
const CpuKernels& cpu_kernels(CpuIsa isa);

// Unpacks the 12 `scales` bytes of a Q4_K block into 8 six-bit scales and 8 six-bit mins (same values as ggml's
// get_scale_min_k4 for j = 0..7, done four at a time on 32-bit words).
static inline void q4_k_unpack_scales(const uint8_t* packed, uint8_t scales[8], uint8_t mins[8]) {
  constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
  uint32_t u[3];
  std::memcpy(u, packed, 12);
  const uint32_t sc_lo = u[0] & kLow6;                                          // scales 0..3
  const uint32_t sc_hi = (u[2] & kLow4) | (((u[0] >> 6) & kLow2) << 4);         // scales 4..7
  const uint32_t mn_lo = u[1] & kLow6;                                          // mins 0..3
  const uint32_t mn_hi = ((u[2] >> 4) & kLow4) | (((u[1] >> 6) & kLow2) << 4);  // mins 4..7
  std::memcpy(scales, &sc_lo, 4);
  std::memcpy(scales + 4, &sc_hi, 4);
  std::memcpy(mins, &mn_lo, 4);
  std::memcpy(mins + 4, &mn_hi, 4);
}

// Per-ISA entry points (dot-*-scalar.cpp, dot-*-avx2.cpp, dot-*-avx512.cpp).
#define SOVREN_DECLARE_CPU_KERNELS(suffix)                                                                            \
  void dot_f32_##suffix(int64_t, const uint8_t*, const uint8_t*, size_t, int, float*);                                \
  void dot_f16_##suffix(int64_t, const uint8_t*, const uint8_t*, size_t, int, float*);                                \
  void dot_bf16_##suffix(int64_t, const uint8_t*, const uint8_t*, size_t, int, float*);                               \
  void dot_q4_0_##suffix(int64_t, const uint8_t*, const uint8_t*, size_t, int, float*);                               \
  void dot_q8_0_##suffix(int64_t, const uint8_t*, const uint8_t*, size_t, int, float*);                               \
  void dot_q4_k_##suffix(int64_t, const uint8_t*, const uint8_t*, size_t, int, float*);                               \
  void dot_q6_k_##suffix(int64_t, const uint8_t*, const uint8_t*, size_t, int, float*);                               \
  void dot_rows_f32_##suffix(int64_t, const uint8_t*, size_t, int64_t, const uint8_t*, size_t, int, float*, size_t);  \
  void dot_rows_f16_##suffix(int64_t, const uint8_t*, size_t, int64_t, const uint8_t*, size_t, int, float*, size_t);  \
  void dot_rows_bf16_##suffix(int64_t, const uint8_t*, size_t, int64_t, const uint8_t*, size_t, int, float*, size_t); \
  void quantize_q8_0_##suffix(const float*, int64_t, uint8_t*);                                                       \
  void quantize_q8_k_##suffix(const float*, int64_t, uint8_t*);                                                       \
  void axpy_##suffix(int64_t, float, const float*, float*);                                                           \
  void gemm_panel_##suffix(const float*, const float*, int64_t, float*, int64_t, int, int, bool);                     \
  extern const int kGemmRows_##suffix, kGemmTokens_##suffix;                                                          \
  void dequantize_row_##suffix(TensorType, const uint8_t*, float*, int64_t);

void transpose_keys_avx512(const float* k, size_t k_stride, int n_keys, int hd, float* kt);
void attend_heads_avx512(const float* q, int n_heads, int hd, const float* kt, const float* v, size_t v_stride,
                         int n_att, float scale, float* scores, float* out);

SOVREN_DECLARE_CPU_KERNELS(scalar)
SOVREN_DECLARE_CPU_KERNELS(avx2)
SOVREN_DECLARE_CPU_KERNELS(avx512)
#undef SOVREN_DECLARE_CPU_KERNELS

}  // namespace sovren
