// Block geometry of the supported GGUF tensor types.
#include "tensor/tensor-type.h"

#include <array>
#include <limits>

namespace sovren {
namespace {

constexpr std::array<TensorTypeTraits, 7> kTraits = {{
    {TensorType::F32, "F32", 1, 4},
    {TensorType::F16, "F16", 1, 2},
    {TensorType::Q4_0, "Q4_0", 32, 18},
    {TensorType::Q8_0, "Q8_0", 32, 34},
    {TensorType::Q4_K, "Q4_K", 256, 144},
    {TensorType::Q6_K, "Q6_K", 256, 210},
    {TensorType::BF16, "BF16", 1, 2},
}};

}  // namespace

std::optional<TensorTypeTraits> tensor_type_traits(uint32_t raw_type) {
  for (const auto& t : kTraits) {
    if (static_cast<uint32_t>(t.type) == raw_type) return t;
  }
  return std::nullopt;
}

const TensorTypeTraits& tensor_type_traits(TensorType type) {
  for (const auto& t : kTraits) {
    if (t.type == type) return t;
  }
  return kTraits[0];  // unreachable for a valid enum value
}

std::string_view tensor_type_name(TensorType type) { return tensor_type_traits(type).name; }

std::optional<uint64_t> tensor_row_bytes(TensorType type, uint64_t n_elements) {
  const auto& t = tensor_type_traits(type);
  if (n_elements % t.block_elements != 0) return std::nullopt;
  const uint64_t blocks = n_elements / t.block_elements;
  if (blocks > std::numeric_limits<uint64_t>::max() / t.block_bytes) return std::nullopt;
  return blocks * t.block_bytes;
}

}  // namespace sovren
