// AVX-512 attention for prompt rows (dot-kernels.h, AttendFn): keys transposed into blocks of 16 so one FMA scores
// 16 keys, the query heads that share a kv head scored together, a vectorised exp, and the value rows summed in
// registers. The per-head path in cpu-backend.cpp calls a dot and an axpy per key instead.
// GCC 12's AVX-512 intrinsic headers pass _mm512_undefined_*() values that trip -Wuninitialized once inlined
// (GCC bug 105593); the warnings are about the headers, not this code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "cpu/dot-kernels.h"

namespace sovren {
namespace {

constexpr int kKeyBlock = 16;

// The first `count` of 16 lanes (all of them from 16 on, none at 0 or below).
inline __mmask16 first_lanes(int count) {
  return count >= kKeyBlock ? 0xFFFF : count <= 0 ? 0 : static_cast<__mmask16>((1u << count) - 1);
}

// e^x for x <= 0 (scores minus their maximum): 2^n * e^r with n = round(x / ln 2), |r| <= ln 2 / 2, e^r by its
// Taylor polynomial to degree 7 (truncation < 1e-8 relative); below -87.3 the result is flushed to 0.
inline __m512 exp_nonpositive(__m512 x) {
  const __m512 floor_x = _mm512_set1_ps(-87.3f);
  const __mmask16 tiny = _mm512_cmp_ps_mask(x, floor_x, _CMP_LT_OQ);
  x = _mm512_max_ps(x, floor_x);
  const __m512 n =
      _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);  // ln 2 split in two for an exact n * hi
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_maskz_mov_ps(static_cast<__mmask16>(~tiny), _mm512_scalef_ps(p, n));
}

// scores[h][16 b + i] = scale * q_h . key (16 b + i) for NH heads and NB consecutive key blocks from `kt`.
template <int NH, int NB>
void score_blocks(const float* const* q, int hd, const float* kt, float scale, float* const* scores) {
  __m512 acc[NH][NB];
  for (int h = 0; h < NH; ++h) {
    for (int b = 0; b < NB; ++b) acc[h][b] = _mm512_setzero_ps();
  }
  for (int d = 0; d < hd; ++d) {
    __m512 k[NB];
    for (int b = 0; b < NB; ++b) k[b] = _mm512_load_ps(kt + (static_cast<size_t>(b) * hd + d) * kKeyBlock);
    for (int h = 0; h < NH; ++h) {
      const __m512 qd = _mm512_set1_ps(q[h][d]);
      for (int b = 0; b < NB; ++b) acc[h][b] = _mm512_fmadd_ps(k[b], qd, acc[h][b]);
    }
  }
  const __m512 s = _mm512_set1_ps(scale);
  for (int h = 0; h < NH; ++h) {
    for (int b = 0; b < NB; ++b) _mm512_store_ps(scores[h] + kKeyBlock * b, _mm512_mul_ps(acc[h][b], s));
  }
}

template <int NH>
void score_heads(const float* const* q, int hd, const float* kt, int n_blocks, float scale, float* const* scores) {
  int b = 0;
  float* s[NH];
  for (; b + 4 <= n_blocks; b += 4) {
    for (int h = 0; h < NH; ++h) s[h] = scores[h] + kKeyBlock * b;
    score_blocks<NH, 4>(q, hd, kt + static_cast<size_t>(b) * hd * kKeyBlock, scale, s);
  }
  for (; b < n_blocks; ++b) {
    for (int h = 0; h < NH; ++h) s[h] = scores[h] + kKeyBlock * b;
    score_blocks<NH, 1>(q, hd, kt + static_cast<size_t>(b) * hd * kKeyBlock, scale, s);
  }
}

// Softmax over scores[0 .. n) in place (entries past n up to the block end become 0); returns 1 / sum.
float softmax_in_place(float* scores, int n) {
  __m512 mx = _mm512_set1_ps(-INFINITY);
  for (int j = 0; j < n; j += kKeyBlock) {
    const __mmask16 m = first_lanes(n - j);
    mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), m, scores + j));
  }
  const __m512 max_v = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
  __m512 sum = _mm512_setzero_ps();
  for (int j = 0; j < n; j += kKeyBlock) {
    const __mmask16 m = first_lanes(n - j);
    const __m512 e = _mm512_maskz_mov_ps(m, exp_nonpositive(_mm512_sub_ps(_mm512_load_ps(scores + j), max_v)));
    _mm512_store_ps(scores + j, e);
    sum = _mm512_add_ps(sum, e);
  }
  return 1.0f / _mm512_reduce_add_ps(sum);
}

// out[i] = sum_j p[j] * v_j[i] for i < hd, over n keys (v_j = v + j * v_stride).
void weighted_values(const float* p, int n, const float* v, size_t v_stride, int hd, float* out) {
  for (int d0 = 0; d0 < hd; d0 += 4 * kKeyBlock) {
    const int width = std::min(4 * kKeyBlock, hd - d0);
    __mmask16 m[4];
    for (int c = 0; c < 4; ++c) m[c] = first_lanes(width - c * kKeyBlock);
    __m512 acc[2][4];
    for (int c = 0; c < 4; ++c) acc[0][c] = acc[1][c] = _mm512_setzero_ps();
    int j = 0;
    for (; j + 2 <= n; j += 2) {  // two keys at a time: 8 independent FMA chains
      for (int u = 0; u < 2; ++u) {
        const float* vj = v + static_cast<size_t>(j + u) * v_stride + d0;
        const __m512 pj = _mm512_set1_ps(p[j + u]);
        for (int c = 0; c < 4; ++c) {
          if (m[c] != 0) acc[u][c] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m[c], vj + c * kKeyBlock), pj, acc[u][c]);
        }
      }
    }
    if (j < n) {
      const float* vj = v + static_cast<size_t>(j) * v_stride + d0;
      const __m512 pj = _mm512_set1_ps(p[j]);
      for (int c = 0; c < 4; ++c) {
        if (m[c] != 0) acc[0][c] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m[c], vj + c * kKeyBlock), pj, acc[0][c]);
      }
    }
    for (int c = 0; c < 4; ++c) {
      if (m[c] != 0) _mm512_mask_storeu_ps(out + d0 + c * kKeyBlock, m[c], _mm512_add_ps(acc[0][c], acc[1][c]));
    }
  }
}

}  // namespace

void transpose_keys_avx512(const float* k, size_t k_stride, int n_keys, int hd, float* kt) {
  const int n_blocks = (n_keys + kKeyBlock - 1) / kKeyBlock;
  for (int b = 0; b < n_blocks; ++b) {
    float* dst = kt + static_cast<size_t>(b) * hd * kKeyBlock;
    for (int i = 0; i < kKeyBlock; ++i) {
      const int j = b * kKeyBlock + i;
      if (j < n_keys) {
        const float* src = k + static_cast<size_t>(j) * k_stride;
        for (int d = 0; d < hd; ++d) dst[d * kKeyBlock + i] = src[d];
      } else {
        for (int d = 0; d < hd; ++d) dst[d * kKeyBlock + i] = 0.0f;
      }
    }
  }
}

void attend_heads_avx512(const float* q, int n_heads, int hd, const float* kt, const float* v, size_t v_stride,
                         int n_att, float scale, float* scores, float* out) {
  const int n_blocks = (n_att + kKeyBlock - 1) / kKeyBlock;
  const size_t row = static_cast<size_t>(n_blocks) * kKeyBlock;  // scores per head
  int h = 0;
  for (; h + 2 <= n_heads; h += 2) {
    const float* qs[2] = {q + static_cast<size_t>(h) * hd, q + static_cast<size_t>(h + 1) * hd};
    float* ss[2] = {scores + h * row, scores + (h + 1) * row};
    score_heads<2>(qs, hd, kt, n_blocks, scale, ss);
  }
  if (h < n_heads) {
    const float* qs[1] = {q + static_cast<size_t>(h) * hd};
    float* ss[1] = {scores + h * row};
    score_heads<1>(qs, hd, kt, n_blocks, scale, ss);
  }
  for (h = 0; h < n_heads; ++h) {
    float* p = scores + h * row;
    const float inv_sum = softmax_in_place(p, n_att);
    float* o = out + static_cast<size_t>(h) * hd;
    weighted_values(p, n_att, v, v_stride, hd, o);
    for (int i = 0; i < hd; ++i) o[i] *= inv_sum;
  }
}

}  // namespace sovren
