// Tests of the shared host/device block maths (quant/block-maths.h) against the CPU reference kernels: dequantisation
// and activation quantisation bit-exact, block dots within a relative 1e-6 of dot-scalar.cpp, on random blocks.
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cpu/dequantize.h"
#include "cpu/dot-kernels.h"
#include "cpu/fp16.h"
#include "quant/block-maths.h"

#include "test-check.h"
#include "test-random-blocks.h"

using namespace sovren;

namespace {

uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

void test_f16_bf16_every_pattern() {
  int f16_bad = 0, bf16_bad = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    f16_bad += bits(block::f16_to_f32(static_cast<uint16_t>(h))) != bits(fp16_to_fp32(static_cast<uint16_t>(h)));
    bf16_bad += bits(block::bf16_to_f32(static_cast<uint16_t>(h))) != bits(bf16_to_fp32(static_cast<uint16_t>(h)));
  }
  check(f16_bad == 0, "f16_to_f32 matches cpu/fp16.h for all 65536 patterns (" + std::to_string(f16_bad) + " differ)");
  check(bf16_bad == 0, "bf16_to_f32 matches cpu/fp16.h for all 65536 patterns (" + std::to_string(bf16_bad) + ")");
}

struct BlockType {
  TensorType type;
  int elements, bytes;
  void (*dequantize)(const uint8_t*, float*);
  float (*dot)(const uint8_t*, const uint8_t*);
  ActivationFormat act;
};

const BlockType kBlockTypes[] = {
    {TensorType::Q4_0, 32, block::kQ4_0Bytes, block::dequantize_q4_0, block::q4_0_block_dot, ActivationFormat::Q8_0},
    {TensorType::Q8_0, 32, block::kQ8_0Bytes, block::dequantize_q8_0, block::q8_0_block_dot, ActivationFormat::Q8_0},
    {TensorType::Q4_K, 256, block::kQ4_KBytes, block::dequantize_q4_k, block::q4_k_block_dot, ActivationFormat::Q8_K},
    {TensorType::Q6_K, 256, block::kQ6_KBytes, block::dequantize_q6_k, block::q6_k_block_dot, ActivationFormat::Q8_K},
};

void test_dequantize_bit_exact() {
  std::mt19937 rng(20);
  for (const auto& bt : kBlockTypes) {
    const int n_blocks = 64;
    const auto w = random_weights(bt.type, 1, static_cast<int64_t>(bt.elements) * n_blocks, rng);
    std::vector<float> ref(static_cast<size_t>(bt.elements) * n_blocks), got(ref.size());
    dequantize_row(bt.type, w.data(), ref.data(), static_cast<int64_t>(ref.size()));
    for (int b = 0; b < n_blocks; ++b) bt.dequantize(w.data() + b * bt.bytes, got.data() + b * bt.elements);
    int bad = 0;
    for (size_t i = 0; i < ref.size(); ++i) bad += bits(ref[i]) != bits(got[i]);
    check(bad == 0, std::string(tensor_type_name(bt.type)) + " block dequantise is bit-exact with dequantize_row (" +
                        std::to_string(bad) + " values differ)");
  }
}

void test_activation_quantisation_bit_exact() {
  std::mt19937 rng(21);
  const auto& ref = cpu_kernels(CpuIsa::Scalar);
  const int64_t n = 1024;
  const auto x = random_activations(n, rng);
  std::vector<uint8_t> want(activation_row_bytes(ActivationFormat::Q8_0, n)), got(want.size());
  ref.quantize_q8_0(x.data(), n, want.data());
  for (int b = 0; b < n / 32; ++b) block::quantize_act_q8_0(x.data() + 32 * b, got.data() + block::kActQ8_0Bytes * b);
  check(want == got, "Q8_0 activation blocks have the bytes of quantize_q8_0_scalar");
  want.assign(activation_row_bytes(ActivationFormat::Q8_K, n), 0);
  got.assign(want.size(), 0);
  ref.quantize_q8_k(x.data(), n, want.data());
  for (int b = 0; b < n / 256; ++b) block::quantize_act_q8_k(x.data() + 256 * b, got.data() + block::kActQ8_KBytes * b);
  check(want == got, "Q8_K activation blocks (with bsums) have the bytes of quantize_q8_k_scalar");
}

void test_block_dots_match_scalar_kernels() {
  std::mt19937 rng(22);
  const auto& ref = cpu_kernels(CpuIsa::Scalar);
  for (const auto& bt : kBlockTypes) {
    for (int trial = 0; trial < 20; ++trial) {
      const int64_t n = static_cast<int64_t>(bt.elements) * (1 + trial % 16);
      const auto w = random_weights(bt.type, 1, n, rng);
      const auto x = random_activations(n, rng);
      std::vector<uint8_t> act(activation_row_bytes(bt.act, n));
      ref.quantize_activation(bt.act, x.data(), n, act.data());
      float want = 0.0f;
      ref.dot_for(bt.type)(n, w.data(), act.data(), act.size(), 1, &want);
      const int act_bytes = bt.act == ActivationFormat::Q8_0 ? block::kActQ8_0Bytes : block::kActQ8_KBytes;
      float got = 0.0f;
      for (int64_t b = 0; b < n / bt.elements; ++b) got += bt.dot(w.data() + b * bt.bytes, act.data() + b * act_bytes);
      const double err =
          std::fabs(static_cast<double>(got) - want) / std::max(1e-6, std::fabs(static_cast<double>(want)));
      if (err > 1e-6) {
        check(false, std::string(tensor_type_name(bt.type)) + " block dot " + std::to_string(got) + " vs scalar " +
                         std::to_string(want));
      }
    }
    check(true, std::string(tensor_type_name(bt.type)) + " block dots match dot_scalar on 20 random rows");
  }
}

// The warp-split forms (one lane per slice) must sum to the whole-block integers the block dots use.
void test_sliced_sums_equal_whole_block() {
  std::mt19937 rng(23);
  const auto& ref = cpu_kernels(CpuIsa::Scalar);
  const auto x = random_activations(256, rng);
  std::vector<uint8_t> a0(activation_row_bytes(ActivationFormat::Q8_0, 256)), ak(kQ8_KActBlockBytes);
  ref.quantize_q8_0(x.data(), 256, a0.data());
  ref.quantize_q8_k(x.data(), 256, ak.data());
  const auto q4 = random_weights(TensorType::Q4_0, 1, 32, rng);
  const auto q8 = random_weights(TensorType::Q8_0, 1, 32, rng);
  int q4_parts = 0, q8_parts = 0;
  for (int j = 0; j < 16; j += 4) q4_parts += block::q4_0_isum(q4.data(), a0.data(), j, 4);
  for (int j = 0; j < 32; j += 4) q8_parts += block::q8_0_isum(q8.data(), a0.data(), j, 4);
  check(q4_parts == block::q4_0_isum(q4.data(), a0.data(), 0, 16), "Q4_0 slices sum to the block's integer dot");
  check(q8_parts == block::q8_0_isum(q8.data(), a0.data(), 0, 32), "Q8_0 slices sum to the block's integer dot");
}

}  // namespace

int main() {
  return run_suites({{"f16/bf16 conversions", test_f16_bf16_every_pattern},
                     {"dequantise", test_dequantize_bit_exact},
                     {"activation quantisation", test_activation_quantisation_bit_exact},
                     {"block dots", test_block_dots_match_scalar_kernels},
                     {"sliced sums", test_sliced_sums_equal_whole_block}});
}
