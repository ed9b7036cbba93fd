// Scalar conversions between float32 and the 16-bit float formats stored in GGUF (IEEE half, bfloat16).
// Functions are `static inline` so every translation unit, including the per-ISA kernel files, gets its own copy:
// a shared inline copy compiled with AVX-512 flags could otherwise be picked by the linker for baseline callers.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace sovren {

// Loads from possibly unaligned block headers go through memcpy (no aliasing or alignment UB).
static inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

static inline float load_f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

static inline void store_f32(uint8_t* p, float v) { std::memcpy(p, &v, sizeof v); }

// Exact half -> float (every half is representable as a float), same values as ggml_fp16_to_fp32.
static inline float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24 is exact in float.
    float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    std::memcpy(&bits, &magnitude, sizeof bits);
    bits |= sign;
  } else if (exponent == 31) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf / NaN (payload kept)
  } else {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);  // rebias 15 -> 127
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// float -> half, round to nearest even, overflow to inf, NaN stays NaN (quiet).
static inline uint16_t fp32_to_fp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u));
  if (ax >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to inf
  if (ax < 0x38800000u) {
    // Below the smallest normal half (2^-14): the result is a subnormal count of 2^-24 units.
    float magnitude;
    std::memcpy(&magnitude, &ax, sizeof magnitude);
    const auto units = static_cast<uint32_t>(std::nearbyint(magnitude * 0x1p24f));  // 1024 becomes the min normal
    return static_cast<uint16_t>(sign | units);
  }
  ax += 0xfffu + ((ax >> 13) & 1u);  // round to nearest even on the 13 dropped bits
  return static_cast<uint16_t>(sign | ((ax - 0x38000000u) >> 13));
}

static inline float bf16_to_fp32(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Round to nearest even like ggml_compute_fp32_to_bf16 (NaN kept quiet).
static inline uint16_t fp32_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 64u);
  return static_cast<uint16_t>((x + (0x7fffu + ((x >> 16) & 1u))) >> 16);
}

}  // namespace sovren
