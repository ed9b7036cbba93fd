// Kernel tables per instruction set and the activation formats each weight type pairs with.
#include "cpu/dot-kernels.h"

#include <string>

#include "core/error.h"

namespace sovren {

ActivationFormat activation_format(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::Q4_0:
    case TensorType::Q8_0:
      return ActivationFormat::Q8_0;
    case TensorType::Q4_K:
    case TensorType::Q6_K:
      return ActivationFormat::Q8_K;
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::BF16:
      return ActivationFormat::F32;
  }
  return ActivationFormat::F32;
}

size_t activation_row_bytes(ActivationFormat format, int64_t n) {
  switch (format) {
    case ActivationFormat::F32:
      return static_cast<size_t>(n) * sizeof(float);
    case ActivationFormat::Q8_0:
      return static_cast<size_t>(n / 32) * kQ8_0ActBlockBytes;
    case ActivationFormat::Q8_K:
      return static_cast<size_t>(n / 256) * kQ8_KActBlockBytes;
  }
  return 0;
}

DotFn CpuKernels::dot_for(TensorType type) const {
  switch (type) {
    case TensorType::F32:
      return dot_f32;
    case TensorType::F16:
      return dot_f16;
    case TensorType::BF16:
      return dot_bf16;
    case TensorType::Q4_0:
      return dot_q4_0;
    case TensorType::Q8_0:
      return dot_q8_0;
    case TensorType::Q4_K:
      return dot_q4_k;
    case TensorType::Q6_K:
      return dot_q6_k;
  }
  throw EngineError("no CPU dot kernel for tensor type id " + std::to_string(static_cast<uint32_t>(type)));
}

DotRowsFn CpuKernels::dot_rows_for(TensorType type) const {
  switch (type) {
    case TensorType::F32:
      return dot_rows_f32;
    case TensorType::F16:
      return dot_rows_f16;
    case TensorType::BF16:
      return dot_rows_bf16;
    case TensorType::Q4_0:
    case TensorType::Q8_0:
    case TensorType::Q4_K:
    case TensorType::Q6_K:
      return nullptr;
  }
  return nullptr;
}

void CpuKernels::quantize_activation(ActivationFormat format, const float* x, int64_t n, uint8_t* out) const {
  switch (format) {
    case ActivationFormat::Q8_0:
      return quantize_q8_0(x, n, out);
    case ActivationFormat::Q8_K:
      return quantize_q8_k(x, n, out);
    case ActivationFormat::F32:
      break;
  }
  throw EngineError("quantize_activation: float32 activations are used as they are");
}

#define SOVREN_KERNEL_TABLE(isa_enum, suffix)                                                                       \
  CpuKernels {                                                                                                      \
    isa_enum, dot_f32_##suffix, dot_f16_##suffix, dot_bf16_##suffix, dot_q4_0_##suffix, dot_q8_0_##suffix,          \
        dot_q4_k_##suffix, dot_q6_k_##suffix, dot_rows_f32_##suffix, dot_rows_f16_##suffix, dot_rows_bf16_##suffix, \
        quantize_q8_0_##suffix, quantize_q8_k_##suffix, axpy_##suffix, gemm_panel_##suffix, kGemmRows_##suffix,     \
        kGemmTokens_##suffix, dequantize_row_##suffix                                                               \
  }

const CpuKernels& cpu_kernels(CpuIsa isa) {
  static const CpuKernels scalar = SOVREN_KERNEL_TABLE(CpuIsa::Scalar, scalar);
  static const CpuKernels avx2 = SOVREN_KERNEL_TABLE(CpuIsa::Avx2, avx2);
  static const CpuKernels avx512 = [] {
    CpuKernels k = SOVREN_KERNEL_TABLE(CpuIsa::Avx512, avx512);
    k.pack_q8_k_tile = pack_q8_k_tile_avx512;
    k.pack_q4_k_row = pack_q4_k_row_avx512;
    k.gemm_q4_k = cpu_has_avx512_vnni() ? gemm_q4_k_avx512vnni : gemm_q4_k_avx512;
    k.transpose_keys = transpose_keys_avx512;
    k.attend_heads = attend_heads_avx512;
    return k;
  }();
  if (!cpu_isa_supported(isa)) {
    throw EngineError("CPU instruction set " + std::string(cpu_isa_name(isa)) + " is not supported by this CPU");
  }
  switch (isa) {
    case CpuIsa::Scalar:
      return scalar;
    case CpuIsa::Avx2:
      return avx2;
    case CpuIsa::Avx512:
      return avx512;
  }
  return scalar;
}

}  // namespace sovren
