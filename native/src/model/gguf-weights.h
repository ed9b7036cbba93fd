// Reading a model's tensors from a GGUF file with every shape, type and size checked: matrices stay in the mapping
// as WeightViews, small vectors (norms, biases) are converted to f32 once. Errors name the tensor.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "gguf/gguf-reader.h"

namespace sovren {

struct TensorTypeCount {
  uint64_t tensors = 0;
  uint64_t elements = 0;
};

// Totals over every tensor in a file, for model info.
struct TensorTotals {
  uint64_t parameters = 0;
  uint64_t bytes = 0;
  std::map<std::string, TensorTypeCount> by_type;  // GGUF type name -> count
};

std::string shape_string(const GgufTensorInfo& t);
const GgufTensorInfo& require_tensor(const GgufFile& gguf, const std::string& name);
// A matrix of `rows` rows by `cols` columns (GGUF ne = [cols, rows]) in any supported type.
WeightView matrix_view(const GgufTensorInfo& t, int64_t cols, int64_t rows);
// The tensor `name` of shape [n] (F32, F16 or BF16) as f32.
std::vector<float> vector_f32(const GgufFile& gguf, Backend& backend, const std::string& name, int64_t n);
// As vector_f32, or empty when the file has no tensor `name`.
std::vector<float> optional_vector_f32(const GgufFile& gguf, Backend& backend, const std::string& name, int64_t n);
TensorTotals tensor_totals(const GgufFile& gguf);

}  // namespace sovren
