// Random but valid weight blocks and activations for the kernel tests (shared by the CPU and block-maths tests).
#pragma once
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "cpu/fp16.h"
#include "tensor/tensor-type.h"

namespace sovren {

inline void put_u16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

// Random but valid blocks: finite f16 scales of realistic magnitude, every quant bit pattern possible.
inline std::vector<uint8_t> random_weights(TensorType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  const size_t row_bytes = *tensor_row_bytes(type, static_cast<uint64_t>(cols));
  std::vector<uint8_t> data(row_bytes * static_cast<size_t>(rows));
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f), scale(0.5f, 2.0f);
  std::uniform_int_distribution<int> byte(0, 255);
  const auto f16 = [&](float lo) { return fp32_to_fp16(lo * scale(rng)); };
  const int64_t n_values = rows * cols;
  uint8_t* p = data.data();
  switch (type) {
    case TensorType::F32:
      for (int64_t i = 0; i < n_values; ++i) store_f32(p + 4 * i, unit(rng));
      break;
    case TensorType::F16:
      for (int64_t i = 0; i < n_values; ++i) put_u16(p + 2 * i, fp32_to_fp16(unit(rng)));
      break;
    case TensorType::BF16:
      for (int64_t i = 0; i < n_values; ++i) put_u16(p + 2 * i, fp32_to_bf16(unit(rng)));
      break;
    case TensorType::Q4_0:
      for (int64_t b = 0; b < n_values / 32; ++b, p += 18) {
        put_u16(p, f16(b % 3 == 0 ? -0.02f : 0.02f));
        for (int j = 2; j < 18; ++j) p[j] = static_cast<uint8_t>(byte(rng));
      }
      break;
    case TensorType::Q8_0:
      for (int64_t b = 0; b < n_values / 32; ++b, p += 34) {
        put_u16(p, f16(0.008f));
        for (int j = 2; j < 34; ++j) p[j] = static_cast<uint8_t>(byte(rng));
      }
      break;
    case TensorType::Q4_K:
      for (int64_t b = 0; b < n_values / 256; ++b, p += 144) {
        put_u16(p, f16(0.002f));
        put_u16(p + 2, f16(0.001f));
        for (int j = 4; j < 144; ++j) p[j] = static_cast<uint8_t>(byte(rng));
      }
      break;
    case TensorType::Q6_K:
      for (int64_t b = 0; b < n_values / 256; ++b, p += 210) {
        for (int j = 0; j < 208; ++j) p[j] = static_cast<uint8_t>(byte(rng));
        put_u16(p + 208, f16(0.0005f));
      }
      break;
  }
  return data;
}

inline std::vector<float> random_activations(int64_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = unit(rng) * (rng() % 37 == 0 ? 6.0f : 1.0f);  // a few outliers, as real activations have
  return x;
}

}  // namespace sovren
