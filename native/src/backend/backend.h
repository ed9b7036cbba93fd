// The compute backend interface: every op the llama forward pass needs. The CPU backend (src/cpu/) implements it;
// the device pass (model/device-forward.h) calls the same ops with the same contracts through the CUDA plugin's C ABI
// (cuda/cuda-plugin-abi.h). All activations are row-major float32.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "tensor/tensor-type.h"

namespace sovren {

// A 2-D weight matrix exactly as stored in the GGUF (no copy): `rows` rows of `cols` elements.
// Row r starts at data + r * tensor_row_bytes(type, cols). In GGUF terms cols = ne[0], rows = ne[1].
struct WeightView {
  TensorType type = TensorType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  const uint8_t* data = nullptr;
};

struct RopeParams {
  int n_rot = 0;                        // rotated dimensions per head (<= head_dim, even)
  float freq_base = 10000.0f;           // theta base
  float freq_scale = 1.0f;              // linear position scaling (1 / rope.scaling.factor for "linear")
  bool neox = false;                    // false: rotate adjacent pairs (x[2i], x[2i+1]) as llama GGUFs expect;
                                        // true: rotate (x[i], x[i + n_rot/2]) as Qwen2 / NeoX do
  const float* freq_factors = nullptr;  // optional per-pair divisor of the frequency (Llama 3.1 "rope_freqs"), n_rot/2
};

struct AttentionParams {
  int n_head = 0;
  int n_head_kv = 0;  // grouped-query attention: head h reads kv head h / (n_head / n_head_kv)
  int head_dim = 0;
  float scale = 1.0f;  // usually 1/sqrt(head_dim)
};

// One sequence's rows in a multi-sequence attention call: rows [first_row, first_row + n_rows) of q attend to
// this sequence's own cache (k_cache / v_cache: [>= n_kv][n_head_kv][head_dim], rows 0..n_kv-1 valid).
struct AttentionSpan {
  const float* k_cache = nullptr;
  const float* v_cache = nullptr;
  int n_kv = 0;
  int first_row = 0;
  int n_rows = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual int n_threads() const = 0;

  // y[t * w.rows + r] = dot(row r of w, x + t * w.cols) for t in [0, n_tokens).
  // n_tokens == 1 is decode (matrix-vector); larger is prompt processing in one pass (matrix-matrix).
  virtual void matmul(const WeightView& w, const float* x, int n_tokens, float* y) = 0;
  // out + i * w.cols = dequantised row ids[i] of w (token embedding lookup). ids are checked by the caller.
  virtual void get_rows(const WeightView& w, const int32_t* ids, int n, float* out) = 0;
  // out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * weight, per token row of length dim. out may alias x.
  virtual void rms_norm(const float* x, const float* weight, int n_tokens, int dim, float eps, float* out) = 0;
  // In place on x laid out [n_tokens][n_heads][head_dim]; token t is at sequence position pos[t].
  virtual void rope(float* x, const int32_t* pos, int n_tokens, int n_heads, int head_dim, const RopeParams& p) = 0;
  // q: [n_tokens][n_head][head_dim]. k_cache / v_cache: [n_kv][n_head_kv][head_dim], rows 0..n_kv-1 valid.
  // Token t attends to cache rows 0..pos[t] inclusive (causal; pos[t] < n_kv). out: [n_tokens][n_head][head_dim].
  virtual void attention(const float* q, const float* k_cache, const float* v_cache, int n_kv, const int32_t* pos,
                         int n_tokens, const AttentionParams& p, float* out) = 0;
  // attention() over rows of several sequences in one call (a continuous-batching step): q and out hold
  // n_rows = sum of spans' n_rows rows laid out as above; row r attends to its span's cache rows 0..pos[r]
  // inclusive (pos[r] < that span's n_kv). Spans must cover rows 0..n_rows-1 in order without gaps.
  virtual void attention_batch(const float* q, const AttentionSpan* spans, int n_spans, const int32_t* pos,
                               const AttentionParams& p, float* out) = 0;
  virtual void silu_mul(float* gate, const float* up, size_t n) = 0;              // gate[i] = silu(gate[i]) * up[i]
  virtual void add(float* x, const float* y, size_t n) = 0;                       // x[i] += y[i]
  virtual void add_bias(float* x, const float* bias, int n_tokens, int dim) = 0;  // x[t][i] += bias[i]

  // Ops of the Whisper encoder / decoder (src/whisper/). Its non-causal attention (encoder self-attention and
  // cross-attention over an utterance's encoder output) is attention_batch with pos[r] = that span's n_kv - 1, so the
  // utterances of a batch attend to their own encoder outputs in one call.
  // out[t] = (x[t] - mean(x[t])) / sqrt(var(x[t]) + eps) * weight + bias, per token row of length dim; out may alias x.
  virtual void layer_norm(const float* x, const float* weight, const float* bias, int n_tokens, int dim, float eps,
                          float* out) = 0;
  // x[i] = 0.5 * x[i] * (1 + erf(x[i] / sqrt(2))): the exact GELU (not the tanh approximation).
  virtual void gelu(float* x, size_t n) = 0;
  // 1-D convolution with kernel 3 and padding 1 (no bias): x is time-major [n_frames][in_ch]; w has rows = out_ch and
  // cols = in_ch * 3 in PyTorch's [out][in][k] order (F32 or F16); out is [n_out][out_ch], n_out = (n_frames - 1) /
  // stride + 1.
  virtual void conv1d_k3(const WeightView& w, const float* x, int n_frames, int in_ch, int stride, float* out) = 0;
};

// n_threads <= 0 means one thread per usable CPU (affinity mask, cgroup CPU quota). Kernels (scalar / AVX2 / AVX-512)
// are chosen at run time.
std::unique_ptr<Backend> make_cpu_backend(int n_threads);

}  // namespace sovren
