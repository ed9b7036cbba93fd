// AVX2 + F16C dequantisation of F16, BF16, Q8_0 and Q4_0 rows for packing prompt-GEMM panels; other types use the
// scalar dequantize_row. Each value is one exact conversion or one multiply, so results equal the scalar ones.
#include <immintrin.h>

#include <cstring>

#include "cpu/dequantize.h"
#include "cpu/dot-kernels.h"
#include "cpu/fp16.h"

namespace sovren {

void dequantize_row_avx2(TensorType type, const uint8_t* src, float* dst, int64_t n) {
  switch (type) {
    case TensorType::F16: {
      int64_t i = 0;
      for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i))));
      }
      for (; i < n; ++i) dst[i] = fp16_to_fp32(load_u16(src + 2 * i));
      return;
    }
    case TensorType::BF16: {
      int64_t i = 0;
      for (; i + 8 <= n; i += 8) {
        const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i)));
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16)));
      }
      for (; i < n; ++i) dst[i] = bf16_to_fp32(load_u16(src + 2 * i));
      return;
    }
    case TensorType::Q8_0:  // { f16 d; i8 qs[32]; }: qs[j] * d
      for (int64_t b = 0; b < n / 32; ++b, src += 34, dst += 32) {
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(load_u16(src)));
        for (int j = 0; j < 32; j += 8) {
          const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + 2 + j)));
          _mm256_storeu_ps(dst + j, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
        }
      }
      return;
    case TensorType::Q4_0:  // { f16 d; u8 qs[16]; }: (low nibble - 8) * d for 0..15, (high nibble - 8) * d for 16..31
      for (int64_t b = 0; b < n / 32; ++b, src += 18, dst += 32) {
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(load_u16(src)));
        const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2));
        const __m128i low = _mm_sub_epi8(_mm_and_si128(packed, _mm_set1_epi8(0x0F)), _mm_set1_epi8(8));
        const __m128i high =
            _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0F)), _mm_set1_epi8(8));
        _mm256_storeu_ps(dst + 0, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(low)), d));
        _mm256_storeu_ps(dst + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(low, 8))), d));
        _mm256_storeu_ps(dst + 16, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(high)), d));
        _mm256_storeu_ps(dst + 24, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(high, 8))), d));
      }
      return;
    default:
      return dequantize_row(type, src, dst, n);
  }
}

}  // namespace sovren
