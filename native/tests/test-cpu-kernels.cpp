// Tests of the CPU kernels: dequantisation against hand-computed blocks, every SIMD dot kernel against the scalar
// reference, matmul against a double-precision reference of the dequantised weights (every ISA, 1..17 tokens, odd
// row counts, 1..3 threads), and rms_norm / rope / attention / silu_mul / add / get_rows against naive versions.
// GCC 12 at -O3 reports a false -Wrestrict inside std::string concatenation (GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "cpu/cpu-backend.h"
#include "cpu/cpu-isa.h"
#include "cpu/dequantize.h"
#include "cpu/dot-kernels.h"
#include "cpu/fp16.h"
#include "cpu/gemm-q4-k.h"

#include "test-check.h"
#include "test-random-blocks.h"

using namespace sovren;

namespace {

std::string fmt(const char* f, double a, double b = 0) {
  char buf[160];
  std::snprintf(buf, sizeof buf, f, a, b);
  return buf;
}

const TensorType kAllTypes[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q4_0,
                                TensorType::Q8_0, TensorType::Q4_K, TensorType::Q6_K};

std::string type_name(TensorType t) { return std::string(tensor_type_name(t)); }

// ---------------------------------------------------------------------------------------------------------------
// Dequantisation against blocks whose values are worked out by hand from the documented layouts.

void test_fp16_conversions() {
  check(fp16_to_fp32(0x3C00) == 1.0f && fp16_to_fp32(0xC000) == -2.0f && fp16_to_fp32(0x3555) == 0.333251953125f,
        "fp16 normal values");
  check(fp16_to_fp32(0x0001) == 0x1p-24f && fp16_to_fp32(0x83FF) == -1023 * 0x1p-24f, "fp16 subnormals");
  check(fp16_to_fp32(0x7BFF) == 65504.0f && std::isinf(fp16_to_fp32(0x7C00)) && std::isnan(fp16_to_fp32(0x7E00)),
        "fp16 max / inf / nan");
  check(std::signbit(fp16_to_fp32(0x8000)) && fp16_to_fp32(0x8000) == 0.0f, "fp16 negative zero");
  int mismatches = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto bits = static_cast<uint16_t>(h);
    if ((bits & 0x7C00) == 0x7C00 && (bits & 0x3FF) != 0) continue;  // NaNs
    if (fp32_to_fp16(fp16_to_fp32(bits)) != bits) ++mismatches;
  }
  check(mismatches == 0, "every finite half survives float round trip (" + std::to_string(mismatches) + " differ)");
  check(fp32_to_fp16(1.0f + 0x1p-11f) == 0x3C00 && fp32_to_fp16(1.0f + 3 * 0x1p-11f) == 0x3C02,
        "fp32_to_fp16 rounds ties to even");
  check(fp32_to_fp16(65520.0f) == 0x7C00 && fp32_to_fp16(65519.0f) == 0x7BFF, "fp32_to_fp16 overflow threshold");
  check(bf16_to_fp32(0x3F80) == 1.0f && bf16_to_fp32(0xC040) == -3.0f && fp32_to_bf16(1.00390625f) == 0x3F80,
        "bf16 conversions");
}

void test_dequantize_hand_blocks() {
  std::vector<float> out(256);
  {  // Q8_0: d = 0.5
    uint8_t block[34];
    put_u16(block, 0x3800);
    for (int j = 0; j < 32; ++j) block[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(j * 8 - 128));
    dequantize_row(TensorType::Q8_0, block, out.data(), 32);
    bool ok = true;
    for (int j = 0; j < 32; ++j) ok &= out[j] == 0.5f * static_cast<float>(j * 8 - 128);
    check(ok && out[0] == -64.0f, "Q8_0 hand block");
  }
  {  // Q4_0: d = 2; qs[j] = low j, high 15 - j
    uint8_t block[18];
    put_u16(block, 0x4000);
    for (int j = 0; j < 16; ++j) block[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
    dequantize_row(TensorType::Q4_0, block, out.data(), 32);
    bool ok = true;
    for (int j = 0; j < 16; ++j) ok &= out[j] == 2.0f * (j - 8) && out[16 + j] == 2.0f * (15 - j - 8);
    check(ok && out[0] == -16.0f && out[16] == 14.0f, "Q4_0 hand block");
  }
  {  // Q4_K: d = 1, dmin = 0.5, known 6-bit scales and mins packed as the layout says
    const int sc[8] = {1, 2, 3, 4, 17, 33, 50, 63}, mn[8] = {5, 6, 7, 8, 20, 40, 60, 1};
    uint8_t block[144] = {};
    put_u16(block, 0x3C00);
    put_u16(block + 2, 0x3800);
    for (int j = 0; j < 4; ++j) {
      block[4 + j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
      block[8 + j] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
      block[12 + j] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
    }
    for (int l = 0; l < 128; ++l) block[16 + l] = static_cast<uint8_t>((l % 16) | ((l % 7) << 4));
    bool scales_ok = true;
    uint8_t usc[8], umn[8];
    q4_k_unpack_scales(block + 4, usc, umn);
    for (int j = 0; j < 8; ++j) {
      uint8_t s, m;
      q4_k_scale_min(j, block + 4, &s, &m);
      scales_ok &= s == sc[j] && m == mn[j] && usc[j] == sc[j] && umn[j] == mn[j];
    }
    check(scales_ok, "Q4_K 6-bit scale/min unpacking");
    dequantize_row(TensorType::Q4_K, block, out.data(), 256);
    bool ok = true;
    for (int i = 0; i < 256; ++i) {
      const int sub = i / 32, chunk = i / 64, l = i % 32;
      const uint8_t byte = block[16 + 32 * chunk + l];
      const int q = (sub % 2 == 0) ? (byte & 0xF) : (byte >> 4);
      ok &= out[i] == 1.0f * sc[sub] * q - 0.5f * mn[sub];
    }
    check(ok && out[0] == -2.5f && out[255] == 63.0f * (127 % 7) - 0.5f, "Q4_K hand block");
  }
  {  // Q6_K: d = 0.25, scales[s] = s - 8 (sub-block of 16), q[i] = (7 i) mod 64 placed per the layout
    uint8_t block[210] = {};
    int q[256];
    for (int i = 0; i < 256; ++i) q[i] = (7 * i) % 64;
    for (int half = 0; half < 2; ++half) {
      uint8_t* ql = block + 64 * half;
      uint8_t* qh = block + 128 + 32 * half;
      const int* qq = q + 128 * half;
      for (int l = 0; l < 32; ++l) {
        ql[l] = static_cast<uint8_t>((qq[l] & 0xF) | ((qq[l + 64] & 0xF) << 4));
        ql[l + 32] = static_cast<uint8_t>((qq[l + 32] & 0xF) | ((qq[l + 96] & 0xF) << 4));
        qh[l] = static_cast<uint8_t>((qq[l] >> 4) | ((qq[l + 32] >> 4) << 2) | ((qq[l + 64] >> 4) << 4) |
                                     ((qq[l + 96] >> 4) << 6));
      }
    }
    for (int s = 0; s < 16; ++s) block[192 + s] = static_cast<uint8_t>(static_cast<int8_t>(s - 8));
    put_u16(block + 208, 0x3400);
    dequantize_row(TensorType::Q6_K, block, out.data(), 256);
    bool ok = true;
    for (int i = 0; i < 256; ++i)
      ok &= out[i] == 0.25f * static_cast<float>(i / 16 - 8) * static_cast<float>(q[i] - 32);
    check(ok && out[0] == 0.25f * -8 * -32, "Q6_K hand block");
  }
  {  // F16 / BF16 / F32 rows
    uint8_t f16[6], bf16[4];
    put_u16(f16, 0x3C00);
    put_u16(f16 + 2, 0xC000);
    put_u16(f16 + 4, 0x0001);
    put_u16(bf16, 0x3F80);
    put_u16(bf16 + 2, 0xC040);
    dequantize_row(TensorType::F16, f16, out.data(), 3);
    check(out[0] == 1.0f && out[1] == -2.0f && out[2] == 0x1p-24f, "F16 row");
    dequantize_row(TensorType::BF16, bf16, out.data(), 2);
    check(out[0] == 1.0f && out[1] == -3.0f, "BF16 row");
  }
  bool threw = false;
  try {
    dequantize_row(TensorType::Q8_0, nullptr, out.data(), 33);
  } catch (const EngineError& e) {
    threw = std::string(e.what()).find("Q8_0") != std::string::npos;
  }
  check(threw, "dequantize_row rejects a partial block, naming the type");
}

// ---------------------------------------------------------------------------------------------------------------
// SIMD kernels against the scalar reference, on identical prepared activations.

void test_simd_dequantize_matches_scalar() {
  std::mt19937 rng(77);
  for (CpuIsa isa : supported_cpu_isas()) {
    for (TensorType type : kAllTypes) {
      const int64_t cols = tensor_type_traits(type).block_elements == 1 ? 301 : 512;
      const auto w = random_weights(type, 1, cols, rng);
      std::vector<float> want(static_cast<size_t>(cols)), got(static_cast<size_t>(cols), NAN);
      dequantize_row(type, w.data(), want.data(), cols);
      cpu_kernels(isa).dequantize_row(type, w.data(), got.data(), cols);
      check(
          std::memcmp(want.data(), got.data(), want.size() * sizeof(float)) == 0,
          std::string(cpu_isa_name(isa)) + " row dequantiser equals dequantize_row bit for bit for " + type_name(type));
    }
  }
}

void test_simd_kernels_match_scalar() {
  std::mt19937 rng(1234);
  const CpuKernels& ref = cpu_kernels(CpuIsa::Scalar);
  for (CpuIsa isa : supported_cpu_isas()) {
    if (isa == CpuIsa::Scalar) continue;
    const CpuKernels& k = cpu_kernels(isa);
    for (TensorType type : kAllTypes) {
      const int64_t block = tensor_type_traits(type).block_elements;
      for (int64_t cols : {block * 1, block * 3, block * 8, block == 1 ? 37 : block * 11, block == 1 ? 5 : block * 2}) {
        const auto w = random_weights(type, 1, cols, rng);
        std::vector<float> wf(static_cast<size_t>(cols));
        dequantize_row(type, w.data(), wf.data(), cols);
        const ActivationFormat format = activation_format(type);
        // 4 activation rows with a padded stride to check that kernels honour act_stride.
        const size_t act_bytes = activation_row_bytes(format, cols), stride = act_bytes + 64;
        std::vector<uint8_t> act(stride * kMaxTokenTile);
        std::vector<std::vector<float>> xs;
        for (int t = 0; t < kMaxTokenTile; ++t) {
          xs.push_back(random_activations(cols, rng));
          uint8_t* dst = act.data() + t * stride;
          if (format == ActivationFormat::F32) {
            std::memcpy(dst, xs.back().data(), act_bytes);
          } else {
            ref.quantize_activation(format, xs.back().data(), cols, dst);
            std::vector<uint8_t> simd_bytes(act_bytes);
            k.quantize_activation(format, xs.back().data(), cols, simd_bytes.data());
            check(
                std::memcmp(simd_bytes.data(), dst, act_bytes) == 0,
                std::string(cpu_isa_name(isa)) + " activation quantisation differs from scalar for " + type_name(type));
          }
        }
        for (int nt = 1; nt <= kMaxTokenTile; ++nt) {
          float got[kMaxTokenTile], want[kMaxTokenTile];
          k.dot_for(type)(cols, w.data(), act.data(), stride, nt, got);
          ref.dot_for(type)(cols, w.data(), act.data(), stride, nt, want);
          for (int t = 0; t < nt; ++t) {
            double magnitude = 0;
            for (int64_t i = 0; i < cols; ++i) magnitude += std::fabs(double(wf[i]) * xs[t][i]) * 1.05;
            const double err = std::fabs(double(got[t]) - want[t]);
            check(err <= 2e-6 * magnitude + 1e-30,
                  std::string(cpu_isa_name(isa)) + " dot " + type_name(type) + " cols " + std::to_string(cols) +
                      " nt " + std::to_string(nt) + fmt(": |simd - scalar| = %g, allowed %g", err, 2e-6 * magnitude));
          }
        }
      }
    }
  }
}

// The row-tiled float kernels: every (row, token) dot against the scalar reference, and the same bits whatever
// rows and tokens share the call (a sequence's logits must not depend on the other sequences of its batched step).
void test_dot_rows_match_scalar_and_tile_shape() {
  std::mt19937 rng(4321);
  const CpuKernels& ref = cpu_kernels(CpuIsa::Scalar);
  for (CpuIsa isa : supported_cpu_isas()) {
    const CpuKernels& k = cpu_kernels(isa);
    for (TensorType type : {TensorType::F32, TensorType::F16, TensorType::BF16}) {
      check(k.dot_rows_for(type) != nullptr,
            std::string(cpu_isa_name(isa)) + " has no dot_rows for " + type_name(type));
      for (int64_t cols : {5, 16, 37, 288, 300}) {
        const int64_t rows = 39;  // not a multiple of any register tile
        const size_t row_bytes = *tensor_row_bytes(type, cols);
        const auto w = random_weights(type, rows, cols, rng);
        const size_t stride = static_cast<size_t>(cols) * sizeof(float) + 64;  // padded activation stride
        std::vector<uint8_t> act(stride * kMaxTokenTile);
        for (int t = 0; t < kMaxTokenTile; ++t) {
          const auto x = random_activations(cols, rng);
          std::memcpy(act.data() + t * stride, x.data(), x.size() * sizeof(float));
        }
        // Reference: the scalar per-row kernel; "alone": every row with one token at a time.
        std::vector<float> want(static_cast<size_t>(kMaxTokenTile * rows)), alone(want.size(), NAN);
        for (int t = 0; t < kMaxTokenTile; ++t) {
          for (int64_t r = 0; r < rows; ++r) {
            ref.dot_for(type)(cols, w.data() + r * row_bytes, act.data() + t * stride, stride, 1, &want[t * rows + r]);
          }
          k.dot_rows_for(type)(cols, w.data(), row_bytes, rows, act.data() + t * stride, stride, 1,
                               alone.data() + t * rows, static_cast<size_t>(rows));
        }
        for (int t = 0; t < kMaxTokenTile; ++t) {
          for (int64_t r = 0; r < rows; ++r) {
            double magnitude = 0;
            std::vector<float> wf(static_cast<size_t>(cols));
            dequantize_row(type, w.data() + r * row_bytes, wf.data(), cols);
            const float* x = reinterpret_cast<const float*>(act.data() + t * stride);
            for (int64_t i = 0; i < cols; ++i) magnitude += std::fabs(double(wf[i]) * x[i]) * 1.05;
            const double err = std::fabs(double(alone[t * rows + r]) - want[t * rows + r]);
            check(err <= 2e-6 * magnitude + 1e-30, std::string(cpu_isa_name(isa)) + " dot_rows " + type_name(type) +
                                                       " cols " + std::to_string(cols) +
                                                       fmt(": |simd - scalar| = %g", err));
          }
        }
        // Shared calls: 2..4 tokens, row ranges starting anywhere, must reproduce "alone" bit for bit.
        for (int nt = 2; nt <= kMaxTokenTile; ++nt) {
          for (int64_t r0 : {0, 1, 3, 17}) {
            const int64_t n_rows = rows - r0;
            std::vector<float> got(static_cast<size_t>(nt * rows), NAN);
            k.dot_rows_for(type)(cols, w.data() + r0 * row_bytes, row_bytes, n_rows, act.data(), stride, nt,
                                 got.data() + r0, static_cast<size_t>(rows));
            bool same = true;
            for (int t = 0; t < nt; ++t)
              for (int64_t r = r0; r < rows; ++r) same = same && got[t * rows + r] == alone[t * rows + r];
            check(same, std::string(cpu_isa_name(isa)) + " dot_rows " + type_name(type) + " cols " +
                            std::to_string(cols) + " tokens " + std::to_string(nt) + " from row " + std::to_string(r0) +
                            ": results differ from one token at a time");
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// matmul through the backend against a double-precision reference of the dequantised weights.

// Largest |x - dequant(quant(x))| per element for the activation format (half a quantisation step).
std::vector<double> activation_error_bound(ActivationFormat format, const float* x, int64_t n) {
  std::vector<double> bound(static_cast<size_t>(n), 0.0);
  if (format == ActivationFormat::F32) return bound;
  const int64_t block = format == ActivationFormat::Q8_0 ? 32 : 256;
  for (int64_t b = 0; b < n; b += block) {
    double amax = 0;
    for (int64_t i = b; i < b + block; ++i) amax = std::max(amax, std::fabs(double(x[i])));
    for (int64_t i = b; i < b + block; ++i) bound[i] = amax / 127.0 * 0.5 * (1 + 1e-6);
  }
  return bound;
}

void test_matmul_against_double_reference() {
  std::mt19937 rng(99);
  for (CpuIsa isa : supported_cpu_isas()) {
    for (int threads : {1, 2, 3}) {
      auto backend = make_cpu_backend_with_isa(threads, isa);
      for (TensorType type : kAllTypes) {
        const int64_t block = tensor_type_traits(type).block_elements;
        // Column counts span more than one 256-column GEMM chunk, with a partial last chunk where the type allows.
        const int64_t cols = block == 1 ? 300 : (block == 32 ? 544 : 512);
        for (int64_t rows : {1, 7, 33, 50}) {  // 33 and 50 leave partial GEMM panels (16 and 32 rows)
          const auto w = random_weights(type, rows, cols, rng);
          std::vector<float> wf(static_cast<size_t>(rows * cols));
          for (int64_t r = 0; r < rows; ++r) {
            dequantize_row(type, w.data() + r * *tensor_row_bytes(type, cols), wf.data() + r * cols, cols);
          }
          const WeightView view{type, rows, cols, w.data()};
          // 1..17 and 40 cover decode and token tiles (batched decode steps); 64 and 77 the prompt GEMM path.
          std::vector<int> token_counts;
          for (int n = 1; n <= 17; n += (threads == 2 ? 1 : 4)) token_counts.push_back(n);
          token_counts.insert(token_counts.end(), {40, 64, 77});
          for (int n_tokens : token_counts) {
            const auto x = random_activations(n_tokens * cols, rng);
            std::vector<float> y(static_cast<size_t>(n_tokens * rows), NAN);
            backend->matmul(view, x.data(), n_tokens, y.data());
            double worst = 0;  // error / allowed
            for (int t = 0; t < n_tokens; ++t) {
              const float* xt = x.data() + t * cols;
              const auto act_err = activation_error_bound(activation_format(type), xt, cols);
              for (int64_t r = 0; r < rows; ++r) {
                double want = 0, magnitude = 0, quant_bound = 0;
                for (int64_t i = 0; i < cols; ++i) {
                  const double wi = wf[r * cols + i];
                  want += wi * xt[i];
                  magnitude += std::fabs(wi * xt[i]);
                  quant_bound += std::fabs(wi) * act_err[i];
                }
                const double allowed = quant_bound + 1e-5 * magnitude + 1e-6;
                const double got = y[t * rows + r];
                worst = std::max(worst, std::isfinite(got) ? std::fabs(got - want) / allowed : 1e9);
              }
            }
            check(worst <= 1.0, std::string(cpu_isa_name(isa)) + " matmul " + type_name(type) + " " +
                                    std::to_string(rows) + "x" + std::to_string(cols) + " tokens " +
                                    std::to_string(n_tokens) + " threads " + std::to_string(threads) +
                                    fmt(": error is %g of the bound", worst));
          }
        }
      }
    }
  }
}

// The Q4_K prompt GEMM (gemm-q4-k.h), both integer-dot variants, against the scalar per-row dot kernel: a tile with
// padding lanes, register tiles of 4 rows and a 3-row tail; and each result is the same bits whichever other
// tokens share its tile and whichever rows its register tile holds.
void test_q4_k_prompt_gemm() {
  if (!cpu_isa_supported(CpuIsa::Avx512)) {
    std::printf("skip: the Q4_K prompt GEMM needs AVX-512\n");
    return;
  }
  std::vector<std::pair<std::string, GemmQ4KFn>> variants = {{"avx512", gemm_q4_k_avx512}};
  if (cpu_has_avx512_vnni()) variants.emplace_back("avx512vnni", gemm_q4_k_avx512vnni);
  std::mt19937 rng(21);
  const int64_t cols = 768, n_blocks = cols / 256, rows = 11;
  const int n_tokens = 20;
  const size_t row_bytes = *tensor_row_bytes(TensorType::Q4_K, cols);
  const auto w = random_weights(TensorType::Q4_K, rows, cols, rng);
  const size_t act_bytes = activation_row_bytes(ActivationFormat::Q8_K, cols), act_stride = act_bytes + 64;
  std::vector<uint8_t> act(act_stride * n_tokens);
  const auto x = random_activations(n_tokens * cols, rng);
  for (int t = 0; t < n_tokens; ++t) quantize_q8_k_scalar(x.data() + t * cols, cols, act.data() + t * act_stride);

  // 64-byte aligned scratch for the packed operands.
  const auto aligned = [](std::vector<uint8_t>& storage, size_t bytes) {
    storage.assign(bytes + 64, 0);
    return storage.data() + (64 - reinterpret_cast<uintptr_t>(storage.data()) % 64) % 64;
  };
  const size_t packed_row_bytes = n_blocks * kQ4KRowBlockBytes, tile_bytes = n_blocks * kQ4KTileBlockBytes;
  std::vector<uint8_t> rows_storage, tiles_storage, alone_storage;
  uint8_t* packed = aligned(rows_storage, rows * packed_row_bytes);
  for (int64_t r = 0; r < rows; ++r)
    pack_q4_k_row_avx512(cols, w.data() + r * row_bytes, packed + r * packed_row_bytes);
  uint8_t* tiles = aligned(tiles_storage, 2 * tile_bytes);
  pack_q8_k_tile_avx512(cols, act.data(), act_stride, 16, tiles);
  pack_q8_k_tile_avx512(cols, act.data() + 16 * act_stride, act_stride, n_tokens - 16, tiles + tile_bytes);
  uint8_t* alone = aligned(alone_storage, tile_bytes);  // token 18 by itself
  pack_q8_k_tile_avx512(cols, act.data() + 18 * act_stride, act_stride, 1, alone);

  std::vector<float> wf(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    dequantize_row(TensorType::Q4_K, w.data() + r * row_bytes, wf.data() + r * cols, cols);
  for (const auto& [name, gemm] : variants) {
    // 32 token rows of output: the kernel must write only the 20 real tokens.
    std::vector<float> y(32 * rows, -12345.0f);
    gemm(n_blocks, packed, packed_row_bytes, rows, tiles, 16, y.data(), rows);
    gemm(n_blocks, packed, packed_row_bytes, rows, tiles + tile_bytes, n_tokens - 16, y.data() + 16 * rows, rows);
    double worst = 0;
    for (int t = 0; t < n_tokens; ++t) {
      const uint8_t* at = act.data() + t * act_stride;
      for (int64_t r = 0; r < rows; ++r) {
        float want;
        dot_q4_k_scalar(cols, w.data() + r * row_bytes, at, 0, 1, &want);
        double magnitude = 0;
        for (int64_t i = 0; i < cols; ++i) {
          const double a = load_f32(at + (i / 256) * kQ8_KActBlockBytes) *
                           static_cast<int8_t>(at[(i / 256) * kQ8_KActBlockBytes + 4 + i % 256]);
          magnitude += std::fabs(wf[r * cols + i] * a);
        }
        const double err = std::fabs(double(y[t * rows + r]) - want) / (1e-5 * magnitude + 1e-6);
        worst = std::max(worst, std::isfinite(y[t * rows + r]) ? err : 1e9);
      }
    }
    check(worst <= 1.0,
          "Q4_K prompt GEMM " + name + " matches the scalar dot" + fmt(" (error %g of the bound)", worst));
    bool untouched = true;
    for (size_t i = static_cast<size_t>(n_tokens) * rows; i < y.size(); ++i) untouched = untouched && y[i] == -12345.0f;
    check(untouched, "Q4_K prompt GEMM " + name + " writes no row past the tile's last token");

    std::vector<float> y_alone(rows, NAN), y_row(n_tokens - 16, NAN);
    gemm(n_blocks, packed, packed_row_bytes, rows, alone, 1, y_alone.data(), rows);
    bool same = true;
    for (int64_t r = 0; r < rows; ++r) same = same && y_alone[r] == y[18 * rows + r];
    check(same, "Q4_K prompt GEMM " + name + ": a token's results do not depend on the tile's other tokens");
    // Row 9 by itself (a 1-row tile) against row 9 of the 11-row run (the 3-row tail tile).
    gemm(n_blocks, packed + 9 * packed_row_bytes, packed_row_bytes, 1, tiles + tile_bytes, n_tokens - 16, y_row.data(),
         1);
    same = true;
    for (int t = 16; t < n_tokens; ++t) same = same && y_row[t - 16] == y[t * rows + 9];
    check(same, "Q4_K prompt GEMM " + name + ": a row's results do not depend on its register tile");
  }
}

void test_matmul_rejects_bad_shapes() {
  auto backend = make_cpu_backend(1);
  std::vector<uint8_t> w(34 * 4);
  std::vector<float> x(64), y(4);
  bool threw = false;
  try {
    backend->matmul(WeightView{TensorType::Q8_0, 2, 48, w.data()}, x.data(), 1, y.data());
  } catch (const EngineError& e) {
    threw = std::string(e.what()).find("48") != std::string::npos;
  }
  check(threw, "matmul rejects 48 columns of Q8_0 and names the count");
}

// ---------------------------------------------------------------------------------------------------------------
// The other ops against naive double-precision versions.

void test_rms_norm_and_elementwise() {
  std::mt19937 rng(5);
  for (CpuIsa isa : supported_cpu_isas()) {
    auto backend = make_cpu_backend_with_isa(2, isa);
    const int n_tokens = 3, dim = 96;
    const auto x = random_activations(n_tokens * dim, rng);
    const auto weight = random_activations(dim, rng);
    std::vector<float> out(x.size());
    backend->rms_norm(x.data(), weight.data(), n_tokens, dim, 1e-5f, out.data());
    double worst = 0;
    for (int t = 0; t < n_tokens; ++t) {
      double ss = 0;
      for (int i = 0; i < dim; ++i) ss += double(x[t * dim + i]) * x[t * dim + i];
      const double inv = 1.0 / std::sqrt(ss / dim + 1e-5);
      for (int i = 0; i < dim; ++i) {
        const double want = x[t * dim + i] * inv * weight[i];
        worst = std::max(worst, std::fabs(out[t * dim + i] - want) / (std::fabs(want) + 1e-6));
      }
    }
    check(worst < 1e-5, std::string(cpu_isa_name(isa)) + fmt(" rms_norm relative error %g", worst));
    std::vector<float> in_place = x;
    backend->rms_norm(in_place.data(), weight.data(), n_tokens, dim, 1e-5f, in_place.data());
    check(in_place == out, std::string(cpu_isa_name(isa)) + " rms_norm in place equals out of place");

    for (size_t n : {size_t(5), size_t(70000)}) {
      auto gate = random_activations(static_cast<int64_t>(n), rng);
      const auto up = random_activations(static_cast<int64_t>(n), rng);
      const auto gate0 = gate;
      backend->silu_mul(gate.data(), up.data(), n);
      double silu_worst = 0;
      for (size_t i = 0; i < n; ++i) {
        const double g = gate0[i], want = g / (1 + std::exp(-g)) * up[i];
        silu_worst = std::max(silu_worst, std::fabs(gate[i] - want) / (std::fabs(want) + 1e-7));
      }
      check(silu_worst < 1e-5, std::string(cpu_isa_name(isa)) + " silu_mul n=" + std::to_string(n) +
                                   fmt(" relative error %g", silu_worst));
      auto sum = gate0;
      backend->add(sum.data(), up.data(), n);
      bool add_ok = true;
      for (size_t i = 0; i < n; ++i) add_ok &= sum[i] == gate0[i] + up[i];
      check(add_ok, std::string(cpu_isa_name(isa)) + " add n=" + std::to_string(n));
    }
    auto biased = x;
    backend->add_bias(biased.data(), weight.data(), n_tokens, dim);
    bool bias_ok = true;
    for (int t = 0; t < n_tokens; ++t)
      for (int i = 0; i < dim; ++i) bias_ok &= biased[t * dim + i] == x[t * dim + i] + weight[i];
    check(bias_ok, std::string(cpu_isa_name(isa)) + " add_bias");
  }
}

void test_get_rows() {
  std::mt19937 rng(8);
  auto backend = make_cpu_backend(2);
  for (TensorType type : kAllTypes) {
    const int64_t cols = tensor_type_traits(type).block_elements == 256 ? 512 : 64, rows = 9;
    const auto w = random_weights(type, rows, cols, rng);
    const int32_t ids[] = {8, 0, 3, 3};
    std::vector<float> out(4 * cols), want(cols);
    backend->get_rows(WeightView{type, rows, cols, w.data()}, ids, 4, out.data());
    bool ok = true;
    for (int i = 0; i < 4; ++i) {
      dequantize_row(type, w.data() + ids[i] * *tensor_row_bytes(type, cols), want.data(), cols);
      ok &= std::memcmp(want.data(), out.data() + i * cols, cols * sizeof(float)) == 0;
    }
    check(ok, "get_rows " + type_name(type) + " equals dequantize_row of each id");
    bool threw = false;
    const int32_t bad[] = {9};
    try {
      backend->get_rows(WeightView{type, rows, cols, w.data()}, bad, 1, out.data());
    } catch (const EngineError&) {
      threw = true;
    }
    check(threw, "get_rows rejects row id 9 of 9 rows for " + type_name(type));
  }
}

void test_rope() {
  std::mt19937 rng(11);
  auto backend = make_cpu_backend(2);
  const int n_tokens = 5, n_heads = 3, head_dim = 16;
  const int32_t pos[n_tokens] = {0, 1, 7, 100, 4095};
  const float factors[8] = {1.0f, 2.0f, 4.0f, 8.0f, 1.5f, 3.0f, 0.5f, 16.0f};  // n_rot / 2 for n_rot 16
  for (bool neox : {false, true}) {
    for (int n_rot : {16, 12}) {
      for (bool with_factors : {false, true}) {
        RopeParams p;
        p.n_rot = n_rot;
        p.freq_base = 500000.0f;
        p.freq_scale = 0.25f;
        p.neox = neox;
        p.freq_factors = with_factors ? factors : nullptr;
        const auto x0 = random_activations(n_tokens * n_heads * head_dim, rng);
        auto x = x0;
        backend->rope(x.data(), pos, n_tokens, n_heads, head_dim, p);
        double worst = 0;
        for (int t = 0; t < n_tokens; ++t) {
          for (int h = 0; h < n_heads; ++h) {
            const float* in = x0.data() + (t * n_heads + h) * head_dim;
            const float* got = x.data() + (t * n_heads + h) * head_dim;
            std::vector<double> want(in, in + head_dim);
            for (int i = 0; i < n_rot / 2; ++i) {
              double theta = pos[t] * 0.25 * std::pow(500000.0, -2.0 * i / n_rot);
              if (with_factors) theta /= factors[i];
              const int a = neox ? i : 2 * i, b = neox ? i + n_rot / 2 : 2 * i + 1;
              want[a] = in[a] * std::cos(theta) - in[b] * std::sin(theta);
              want[b] = in[a] * std::sin(theta) + in[b] * std::cos(theta);
            }
            for (int i = 0; i < head_dim; ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
          }
        }
        check(worst < 2e-6, std::string("rope ") + (neox ? "neox" : "adjacent") + " n_rot " + std::to_string(n_rot) +
                                (with_factors ? " with freq_factors" : "") + fmt(": max error %g", worst));
      }
    }
  }
}

// Worst absolute error of out (rows x n_head x head_dim) against a double-precision attention of each row over the
// cache rows 0..pos[row] (k, v: [n_kv][n_head_kv][head_dim]).
double attention_error(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                       const std::vector<int32_t>& pos, const AttentionParams& p, const float* out) {
  double worst = 0;
  for (size_t t = 0; t < pos.size(); ++t) {
    for (int h = 0; h < p.n_head; ++h) {
      const int kvh = h / (p.n_head / p.n_head_kv);
      std::vector<double> s(pos[t] + 1);
      double mx = -1e300, sum = 0;
      for (int j = 0; j <= pos[t]; ++j) {
        double d = 0;
        for (int i = 0; i < p.head_dim; ++i)
          d += double(q[(t * p.n_head + h) * p.head_dim + i]) * k[(j * p.n_head_kv + kvh) * p.head_dim + i];
        s[j] = d * p.scale;
        mx = std::max(mx, s[j]);
      }
      for (auto& e : s) sum += (e = std::exp(e - mx));
      for (int i = 0; i < p.head_dim; ++i) {
        double want = 0;
        for (int j = 0; j <= pos[t]; ++j) want += s[j] / sum * v[(j * p.n_head_kv + kvh) * p.head_dim + i];
        worst = std::max(worst, std::fabs(out[(t * p.n_head + h) * p.head_dim + i] - want));
      }
    }
  }
  return worst;
}

// Rows of a few tokens take the per-head loop, prompt chunks (>= 16 rows) the tiled kernel where the ISA has one:
// head sizes that are and are not a multiple of 16, 1..4 query heads per kv head, caches of partial key blocks.
void test_attention() {
  std::mt19937 rng(21);
  struct Shape {
    int n_head, n_head_kv, head_dim, n_kv, n_tokens;
  };
  const Shape shapes[] = {
      {6, 2, 40, 23, 4}, {6, 2, 40, 70, 40}, {8, 2, 64, 33, 33}, {4, 4, 64, 17, 16}, {5, 1, 80, 100, 20}};
  for (CpuIsa isa : supported_cpu_isas()) {
    auto backend = make_cpu_backend_with_isa(2, isa);
    for (const Shape& shape : shapes) {
      AttentionParams p;
      p.n_head = shape.n_head;
      p.n_head_kv = shape.n_head_kv;
      p.head_dim = shape.head_dim;
      p.scale = 1.0f / std::sqrt(float(shape.head_dim));
      const int n_kv = shape.n_kv, n_tokens = shape.n_tokens;
      std::vector<int32_t> pos(n_tokens);
      for (int t = 0; t < n_tokens; ++t) pos[t] = n_kv - n_tokens + t;  // a prompt continuing a cached prefix
      const auto q = random_activations(n_tokens * p.n_head * p.head_dim, rng);
      auto k = random_activations(n_kv * p.n_head_kv * p.head_dim, rng);
      const auto v = random_activations(n_kv * p.n_head_kv * p.head_dim, rng);
      for (size_t i = 0; i < 40; ++i) k[i] *= 200.0f;  // large logits: softmax must stay finite
      std::vector<float> out(q.size(), NAN);
      backend->attention(q.data(), k.data(), v.data(), n_kv, pos.data(), n_tokens, p, out.data());
      const double worst = attention_error(q, k, v, pos, p, out.data());
      const std::string label = std::string(cpu_isa_name(isa)) + " attention " + std::to_string(n_tokens) + " rows, " +
                                std::to_string(p.n_head) + "/" + std::to_string(p.n_head_kv) + " heads of " +
                                std::to_string(p.head_dim) + ", " + std::to_string(n_kv) + " keys";
      check(worst < 1e-4, label + fmt(": max error %g", worst));

      // The same rows in one call with a single-row span first (a decode row sharing the step): both spans right,
      // and the prompt rows' bits the same as alone.
      std::vector<float> q2(static_cast<size_t>(p.n_head * p.head_dim), 0.5f);
      q2.insert(q2.end(), q.begin(), q.end());
      std::vector<int32_t> pos2 = {n_kv - 1};
      pos2.insert(pos2.end(), pos.begin(), pos.end());
      const AttentionSpan spans[2] = {{k.data(), v.data(), n_kv, 0, 1}, {k.data(), v.data(), n_kv, 1, n_tokens}};
      std::vector<float> out2(q2.size(), NAN);
      backend->attention_batch(q2.data(), spans, 2, pos2.data(), p, out2.data());
      check(attention_error(q2, k, v, pos2, p, out2.data()) < 1e-4 &&
                std::equal(out.begin(), out.end(), out2.begin() + p.n_head * p.head_dim),
            label + ": with a decode row in the same call, same results");
    }
    AttentionParams p;
    p.n_head = 6;
    p.n_head_kv = 2;
    p.head_dim = 40;
    std::vector<float> q(6 * 40), k(2 * 40 * 4), out(6 * 40);
    const int32_t bad_pos[1] = {4};
    bool threw = false;
    try {
      backend->attention(q.data(), k.data(), k.data(), 4, bad_pos, 1, p, out.data());
    } catch (const EngineError&) {
      threw = true;
    }
    check(threw, "attention rejects a position past the cache");
  }
}

void test_isa_override() {
  const char* saved = std::getenv("SOVREN_CPU_ISA");
  const std::string saved_value = saved ? saved : "";
  setenv("SOVREN_CPU_ISA", "scalar", 1);
  check(select_cpu_isa() == CpuIsa::Scalar && make_cpu_backend(1)->name() == "cpu-scalar",
        "SOVREN_CPU_ISA=scalar selects the scalar kernels");
  setenv("SOVREN_CPU_ISA", "sse9", 1);
  bool threw = false;
  try {
    make_cpu_backend(1);
  } catch (const EngineError& e) {
    threw = std::string(e.what()).find("sse9") != std::string::npos;
  }
  check(threw, "an unknown SOVREN_CPU_ISA is rejected by name");
  unsetenv("SOVREN_CPU_ISA");
  check(select_cpu_isa() == best_cpu_isa(), "without SOVREN_CPU_ISA the best supported ISA is used");
  if (saved) setenv("SOVREN_CPU_ISA", saved_value.c_str(), 1);
}

}  // namespace

int main() {
  try {
    test_fp16_conversions();
    test_dequantize_hand_blocks();
    test_simd_dequantize_matches_scalar();
    test_simd_kernels_match_scalar();
    test_dot_rows_match_scalar_and_tile_shape();
    test_matmul_against_double_reference();
    test_q4_k_prompt_gemm();
    test_matmul_rejects_bad_shapes();
    test_rms_norm_and_elementwise();
    test_get_rows();
    test_rope();
    test_attention();
    test_isa_override();
  } catch (const std::exception& e) {
    std::printf("FAIL: unexpected exception: %s\n", e.what());
    ++g_failed;
  }
  std::string isas;
  for (CpuIsa isa : supported_cpu_isas()) isas += " " + std::string(cpu_isa_name(isa));
  std::printf("test-cpu-kernels (ISAs:%s): %d passed, %d failed\n", isas.c_str(), g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
