// Scalar reference dot kernels for every weight type, plus activation quantisation and axpy. The SIMD kernels
// compute the same integer block sums and are tested against these.
#include <algorithm>
#include <cmath>

#include "cpu/dot-kernels.h"
#include "cpu/fp16.h"

namespace sovren {
namespace {

const float* act_f32(const uint8_t* act, size_t stride, int t) {
  return reinterpret_cast<const float*>(act + static_cast<size_t>(t) * stride);  // activations are float arrays
}

// Q8_0 activation / Q8_K activation block accessors (layouts in dot-kernels.h).
const int8_t* act_qs(const uint8_t* block) { return reinterpret_cast<const int8_t*>(block + 4); }
int16_t act_bsum(const uint8_t* block, int j) {
  int16_t v;
  std::memcpy(&v, block + kQ8_KActBsumsOffset + 2 * j, sizeof v);
  return v;
}

}  // namespace

void dot_f32_scalar(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
  for (int t = 0; t < n_tok; ++t) {
    const float* x = act_f32(act, stride, t);
    float sum = 0.0f;
    for (int64_t i = 0; i < n; ++i) sum += load_f32(w + 4 * i) * x[i];
    out[t] = sum;
  }
}

void dot_f16_scalar(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
  for (int t = 0; t < n_tok; ++t) {
    const float* x = act_f32(act, stride, t);
    float sum = 0.0f;
    for (int64_t i = 0; i < n; ++i) sum += fp16_to_fp32(load_u16(w + 2 * i)) * x[i];
    out[t] = sum;
  }
}

void dot_bf16_scalar(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
  for (int t = 0; t < n_tok; ++t) {
    const float* x = act_f32(act, stride, t);
    float sum = 0.0f;
    for (int64_t i = 0; i < n; ++i) sum += bf16_to_fp32(load_u16(w + 2 * i)) * x[i];
    out[t] = sum;
  }
}

namespace {
// The reference row-tiled kernel: the per-row kernel for each row.
template <DotFn Dot>
void dot_rows(int64_t n, const uint8_t* w, size_t w_stride, int64_t n_rows, const uint8_t* act, size_t act_stride,
              int n_tok, float* y, size_t y_stride) {
  float out[kMaxTokenTile];
  for (int64_t r = 0; r < n_rows; ++r) {
    Dot(n, w + static_cast<size_t>(r) * w_stride, act, act_stride, n_tok, out);
    for (int t = 0; t < n_tok; ++t) y[static_cast<size_t>(t) * y_stride + static_cast<size_t>(r)] = out[t];
  }
}
}  // namespace

void dot_rows_f32_scalar(int64_t n, const uint8_t* w, size_t w_stride, int64_t n_rows, const uint8_t* act,
                         size_t act_stride, int n_tok, float* y, size_t y_stride) {
  dot_rows<dot_f32_scalar>(n, w, w_stride, n_rows, act, act_stride, n_tok, y, y_stride);
}
void dot_rows_f16_scalar(int64_t n, const uint8_t* w, size_t w_stride, int64_t n_rows, const uint8_t* act,
                         size_t act_stride, int n_tok, float* y, size_t y_stride) {
  dot_rows<dot_f16_scalar>(n, w, w_stride, n_rows, act, act_stride, n_tok, y, y_stride);
}
void dot_rows_bf16_scalar(int64_t n, const uint8_t* w, size_t w_stride, int64_t n_rows, const uint8_t* act,
                          size_t act_stride, int n_tok, float* y, size_t y_stride) {
  dot_rows<dot_bf16_scalar>(n, w, w_stride, n_rows, act, act_stride, n_tok, y, y_stride);
}

// Q4_0 block { f16 d; u8 qs[16]; }: element j < 16 = low nibble of qs[j], j + 16 = high nibble; value d * (q - 8).
void dot_q4_0_scalar(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
  const int64_t nb = n / 32;
  for (int t = 0; t < n_tok; ++t) {
    const uint8_t* a = act + static_cast<size_t>(t) * stride;
    float sum = 0.0f;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* wb = w + b * 18;
      const uint8_t* ab = a + b * kQ8_0ActBlockBytes;
      const int8_t* y = act_qs(ab);
      int isum = 0;
      for (int j = 0; j < 16; ++j) {
        isum += ((wb[2 + j] & 0x0F) - 8) * y[j];
        isum += ((wb[2 + j] >> 4) - 8) * y[j + 16];
      }
      sum += fp16_to_fp32(load_u16(wb)) * load_f32(ab) * static_cast<float>(isum);
    }
    out[t] = sum;
  }
}

// Q8_0 block { f16 d; i8 qs[32]; }: value d * qs[j].
void dot_q8_0_scalar(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
  const int64_t nb = n / 32;
  for (int t = 0; t < n_tok; ++t) {
    const uint8_t* a = act + static_cast<size_t>(t) * stride;
    float sum = 0.0f;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* wb = w + b * 34;
      const uint8_t* ab = a + b * kQ8_0ActBlockBytes;
      const auto* q = reinterpret_cast<const int8_t*>(wb + 2);
      const int8_t* y = act_qs(ab);
      int isum = 0;
      for (int j = 0; j < 32; ++j) isum += q[j] * y[j];
      sum += fp16_to_fp32(load_u16(wb)) * load_f32(ab) * static_cast<float>(isum);
    }
    out[t] = sum;
  }
}

// Q4_K block { f16 d; f16 dmin; u8 scales[12]; u8 qs[128]; }: sub-block s (32 values) has value
// d * sc[s] * q - dmin * m[s]; qs chunk c (32 bytes) holds sub-block 2c in low nibbles, 2c + 1 in high nibbles.
// dot = da * (d * sum_s sc[s] * sum(q * y) - dmin * sum_s m[s] * sum(y)), sum(y) from the activation bsums.
void dot_q4_k_scalar(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
  const int64_t nb = n / 256;
  for (int t = 0; t < n_tok; ++t) {
    const uint8_t* a = act + static_cast<size_t>(t) * stride;
    float sum = 0.0f;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* wb = w + b * 144;
      const uint8_t* ab = a + b * kQ8_KActBlockBytes;
      uint8_t sc[8], m[8];
      q4_k_unpack_scales(wb + 4, sc, m);
      const uint8_t* qs = wb + 16;
      const int8_t* y = act_qs(ab);
      int isum = 0, msum = 0;
      for (int c = 0; c < 4; ++c) {
        int lo = 0, hi = 0;
        for (int l = 0; l < 32; ++l) {
          lo += (qs[32 * c + l] & 0xF) * y[64 * c + l];
          hi += (qs[32 * c + l] >> 4) * y[64 * c + 32 + l];
        }
        isum += sc[2 * c] * lo + sc[2 * c + 1] * hi;
      }
      for (int s = 0; s < 8; ++s) msum += m[s] * (act_bsum(ab, 2 * s) + act_bsum(ab, 2 * s + 1));
      const float da = load_f32(ab);
      sum += da * (fp16_to_fp32(load_u16(wb)) * static_cast<float>(isum) -
                   fp16_to_fp32(load_u16(wb + 2)) * static_cast<float>(msum));
    }
    out[t] = sum;
  }
}

// Q6_K block { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d; }: value d * scales[s] * (q - 32) with 6-bit q
// (layout in dequantize.cpp). dot = da * d * sum_s scales[s] * (sum(q * y) - 32 * bsum[s]).
void dot_q6_k_scalar(int64_t n, const uint8_t* w, const uint8_t* act, size_t stride, int n_tok, float* out) {
  const int64_t nb = n / 256;
  for (int t = 0; t < n_tok; ++t) {
    const uint8_t* a = act + static_cast<size_t>(t) * stride;
    float sum = 0.0f;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* wb = w + b * 210;
      const uint8_t* ab = a + b * kQ8_KActBlockBytes;
      const int8_t* y = act_qs(ab);
      const auto* scales = reinterpret_cast<const int8_t*>(wb + 192);
      int sub[16] = {};  // sum(q * y) per sub-block of 16
      for (int half = 0; half < 2; ++half) {
        const uint8_t* ql = wb + 64 * half;
        const uint8_t* qh = wb + 128 + 32 * half;
        const int8_t* yh = y + 128 * half;
        int* s = sub + 8 * half;
        for (int l = 0; l < 32; ++l) {
          const int q1 = (ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4);
          const int q2 = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
          const int q3 = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
          const int q4 = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
          s[0 + l / 16] += q1 * yh[l];
          s[2 + l / 16] += q2 * yh[l + 32];
          s[4 + l / 16] += q3 * yh[l + 64];
          s[6 + l / 16] += q4 * yh[l + 96];
        }
      }
      int isum = 0;
      for (int s = 0; s < 16; ++s) isum += scales[s] * (sub[s] - 32 * act_bsum(ab, s));
      sum += load_f32(ab) * fp16_to_fp32(load_u16(wb + 208)) * static_cast<float>(isum);
    }
    out[t] = sum;
  }
}

namespace {

// One block of `count` values: d = max|x| / 127, q = round-to-nearest-even(x / d). Division (not multiply by the
// reciprocal) so every ISA's version gives identical bytes.
float quantize_block(const float* x, int count, int8_t* q) {
  float amax = 0.0f;
  for (int j = 0; j < count; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  for (int j = 0; j < count; ++j) {
    q[j] = d == 0.0f ? 0 : static_cast<int8_t>(std::nearbyint(x[j] / d));
  }
  return d;
}

}  // namespace

void quantize_q8_0_scalar(const float* x, int64_t n, uint8_t* out) {
  for (int64_t b = 0; b < n / 32; ++b, x += 32, out += kQ8_0ActBlockBytes) {
    store_f32(out, quantize_block(x, 32, reinterpret_cast<int8_t*>(out + 4)));
  }
}

void quantize_q8_k_scalar(const float* x, int64_t n, uint8_t* out) {
  for (int64_t b = 0; b < n / 256; ++b, x += 256, out += kQ8_KActBlockBytes) {
    auto* q = reinterpret_cast<int8_t*>(out + 4);
    store_f32(out, quantize_block(x, 256, q));
    for (int j = 0; j < 16; ++j) {
      int16_t bsum = 0;
      for (int l = 0; l < 16; ++l) bsum = static_cast<int16_t>(bsum + q[16 * j + l]);
      std::memcpy(out + kQ8_KActBsumsOffset + 2 * j, &bsum, sizeof bsum);
    }
  }
}

void axpy_scalar(int64_t n, float a, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace sovren
