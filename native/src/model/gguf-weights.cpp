// Checked views of a GGUF file's weight tensors (see gguf-weights.h).
#include "model/gguf-weights.h"

namespace sovren {

std::string shape_string(const GgufTensorInfo& t) {
  std::string s = "[";
  for (uint32_t d = 0; d < t.n_dims; ++d) {
    if (d > 0) s += ", ";
    s += std::to_string(t.ne[d]);
  }
  return s + "]";
}

const GgufTensorInfo& require_tensor(const GgufFile& gguf, const std::string& name) {
  const GgufTensorInfo* t = gguf.find_tensor(name);
  if (t == nullptr) throw EngineError("model file is missing tensor '" + name + "'");
  return *t;
}

WeightView matrix_view(const GgufTensorInfo& t, int64_t cols, int64_t rows) {
  if (t.n_dims != 2 || t.ne[0] != cols || t.ne[1] != rows) {
    throw EngineError("tensor '" + t.name + "' has shape " + shape_string(t) + ", expected [" + std::to_string(cols) +
                      ", " + std::to_string(rows) + "]");
  }
  const auto row_bytes = tensor_row_bytes(t.type, static_cast<uint64_t>(cols));
  if (!row_bytes) {
    throw EngineError("tensor '" + t.name + "' of type " + std::string(tensor_type_name(t.type)) + " has rows of " +
                      std::to_string(cols) + " elements, not a whole number of " +
                      std::to_string(tensor_type_traits(t.type).block_elements) + "-element blocks");
  }
  if (*row_bytes * static_cast<uint64_t>(rows) != t.nbytes || t.data == nullptr) {
    throw EngineError("tensor '" + t.name + "' has " + std::to_string(t.nbytes) + " bytes of data, expected " +
                      std::to_string(*row_bytes * static_cast<uint64_t>(rows)));
  }
  return WeightView{t.type, rows, cols, t.data};
}

std::vector<float> vector_f32(const GgufFile& gguf, Backend& backend, const std::string& name, int64_t n) {
  const GgufTensorInfo& t = require_tensor(gguf, name);
  if (t.n_dims != 1 || t.ne[0] != n) {
    throw EngineError("tensor '" + name + "' has shape " + shape_string(t) + ", expected [" + std::to_string(n) + "]");
  }
  if (t.type != TensorType::F32 && t.type != TensorType::F16 && t.type != TensorType::BF16) {
    throw EngineError("tensor '" + name + "' has type " + std::string(tensor_type_name(t.type)) +
                      "; vectors must be F32, F16 or BF16");
  }
  if (t.data == nullptr || t.nbytes != *tensor_row_bytes(t.type, static_cast<uint64_t>(n))) {
    throw EngineError("tensor '" + name + "' has " + std::to_string(t.nbytes) + " bytes of data for " +
                      std::to_string(n) + " elements");
  }
  const WeightView row{t.type, 1, n, t.data};
  std::vector<float> out(static_cast<size_t>(n));
  const int32_t row0 = 0;
  backend.get_rows(row, &row0, 1, out.data());
  return out;
}

std::vector<float> optional_vector_f32(const GgufFile& gguf, Backend& backend, const std::string& name, int64_t n) {
  if (gguf.find_tensor(name) == nullptr) return {};
  return vector_f32(gguf, backend, name, n);
}

TensorTotals tensor_totals(const GgufFile& gguf) {
  TensorTotals totals;
  for (const GgufTensorInfo& t : gguf.tensors()) {
    TensorTypeCount& c = totals.by_type[std::string(tensor_type_name(t.type))];
    c.tensors += 1;
    c.elements += static_cast<uint64_t>(t.n_elements());
    totals.parameters += static_cast<uint64_t>(t.n_elements());
    totals.bytes += t.nbytes;
  }
  return totals;
}

}  // namespace sovren
