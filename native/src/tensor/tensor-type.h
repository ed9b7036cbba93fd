// Tensor element types as numbered in GGUF (ggml's `ggml_type`), with their block geometry.
// Quantised types store values in fixed-size blocks; a row of `n` elements must be a whole number of blocks.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sovren {

enum class TensorType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q8_0 = 8,
  Q4_K = 12,
  Q6_K = 14,
  BF16 = 30,
};

// Block layouts (little-endian, packed, exactly as ggml writes them):
//   F32  : 1 element,  4 bytes.           F16 : 1 element, 2 bytes (IEEE half).   BF16: 1 element, 2 bytes.
//   Q4_0 : 32 elements, 18 bytes  { f16 d; u8 qs[16]; }            x[j] = d * ((qs[j] & 15) - 8), x[j+16] = d * ((qs[j]
//   >> 4) - 8) Q8_0 : 32 elements, 34 bytes  { f16 d; i8 qs[32]; }            x[j] = d * qs[j] Q4_K : 256 elements, 144
//   bytes { f16 d; f16 dmin; u8 scales[12]; u8 qs[128]; }  8 sub-blocks of 32, 6-bit scale/min Q6_K : 256 elements, 210
//   bytes { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d; } 16 sub-blocks of 16
struct TensorTypeTraits {
  TensorType type;
  std::string_view name;
  uint32_t block_elements;  // elements per block
  uint32_t block_bytes;     // bytes per block
};

// Traits of a raw GGUF type id, or nullopt for a type the engine does not support (the caller names it in its error).
std::optional<TensorTypeTraits> tensor_type_traits(uint32_t raw_type);
const TensorTypeTraits& tensor_type_traits(TensorType type);
std::string_view tensor_type_name(TensorType type);

// Bytes taken by `n_elements` consecutive elements, or nullopt when n_elements is not a whole number of blocks
// or the size overflows 64 bits.
std::optional<uint64_t> tensor_row_bytes(TensorType type, uint64_t n_elements);

}  // namespace sovren
