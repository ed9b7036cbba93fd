// GGUF v2/v3 reader: maps a model file read-only, validates every count, size and offset against the file size,
// and exposes typed metadata getters and tensor descriptors that point straight into the mapping (no copies).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "tensor/tensor-type.h"

namespace sovren {

class GgufError : public EngineError {
 public:
  using EngineError::EngineError;
};

enum class GgufValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

// "uint32", "string", "array", ... (for messages).
std::string_view gguf_value_type_name(GgufValueType type);

struct GgufTensorInfo {
  std::string name;
  TensorType type = TensorType::F32;
  uint32_t n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};   // ne[0] innermost (columns); unused dims = 1
  uint64_t offset = 0;            // relative to the start of the tensor data section
  uint64_t nbytes = 0;            // exact size computed from type and dims
  const uint8_t* data = nullptr;  // points into the mapping

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

class MappedFile;

class GgufFile {
 public:
  // Maps `path` read-only. Throws GgufError naming the path and the problem.
  static std::unique_ptr<GgufFile> open(const std::string& path);
  // Parses a buffer in place (no copy): the caller keeps it alive for the lifetime of the GgufFile.
  static std::unique_ptr<GgufFile> from_buffer(const uint8_t* data, size_t size);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  size_t file_size() const { return size_; }
  uint64_t data_offset() const { return data_offset_; }  // absolute start of the tensor data section

  bool has(std::string_view key) const;
  std::optional<GgufValueType> type_of(std::string_view key) const;
  std::optional<GgufValueType> array_type_of(std::string_view key) const;  // element type; nullopt if not an array

  // Typed getters throw GgufError naming the key if missing or of an incompatible type. Integer getters accept any
  // integer type whose value fits the result (bool only for get_bool); get_float accepts F32/F64.
  std::string_view get_string(std::string_view key) const;
  uint64_t get_uint(std::string_view key) const;
  int64_t get_int(std::string_view key) const;
  double get_float(std::string_view key) const;
  bool get_bool(std::string_view key) const;

  // Fallback only when the key is missing; a present key of the wrong type still throws.
  uint64_t get_uint_or(std::string_view key, uint64_t fallback) const;
  double get_float_or(std::string_view key, double fallback) const;
  std::string_view get_string_or(std::string_view key, std::string_view fallback) const;
  bool get_bool_or(std::string_view key, bool fallback) const;

  size_t array_size(std::string_view key) const;
  std::vector<std::string_view> get_string_array(std::string_view key) const;  // views into the mapping
  std::vector<float> get_f32_array(std::string_view key) const;                // F32 (or F64, narrowed) elements
  std::vector<int32_t> get_i32_array(std::string_view key) const;  // any integer element type that fits int32

  std::vector<std::string> keys() const;  // in file order
  std::string describe_value(std::string_view key, size_t max_array_items = 8) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;  // nullptr if absent

 private:
  struct KeyValue {
    std::string_view key;  // view into the buffer
    GgufValueType type;
    size_t value_pos;                                // offset of the value (for arrays: of the element type field)
    GgufValueType elem_type = GgufValueType::UINT8;  // arrays only
    uint64_t count = 0;                              // arrays only
    size_t elems_pos = 0;                            // arrays only: offset of the first element
  };

  GgufFile(std::unique_ptr<MappedFile> mapping, const uint8_t* data, size_t size);
  void parse();
  const KeyValue& require(std::string_view key) const;
  const KeyValue* lookup(std::string_view key) const;
  const KeyValue& require_array(std::string_view key) const;
  std::string describe_scalar(GgufValueType type, size_t pos, size_t* next) const;
  std::string describe_array(GgufValueType elem_type, uint64_t count, size_t pos, size_t max_items, size_t* next) const;

  std::unique_ptr<MappedFile> mapping_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<KeyValue> kvs_;
  std::unordered_map<std::string_view, size_t> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

}  // namespace sovren
