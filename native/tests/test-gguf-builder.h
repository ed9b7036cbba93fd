// Shared by the GGUF tests: a minimal in-memory GGUF writer (valid files and deliberately broken ones) and the
// check/summary helpers each test executable reports with.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf-reader.h"

namespace gguf_test {

inline int g_passed = 0;
inline int g_failed = 0;

inline void check(bool ok, const std::string& what, int line) {
  if (ok) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("FAIL (line %d): %s\n", line, what.c_str());
  }
}
#define CHECK(cond) ::gguf_test::check((cond), #cond, __LINE__)
#define CHECK_MSG(cond, msg) ::gguf_test::check((cond), std::string(#cond) + " -- " + (msg), __LINE__)

// Runs f, which must throw sovren::GgufError whose message contains every needle.
inline void expect_gguf_error(const std::string& label, const std::function<void()>& f,
                              std::initializer_list<std::string_view> needles, int line) {
  try {
    f();
  } catch (const sovren::GgufError& e) {
    const std::string msg = e.what();
    for (std::string_view needle : needles) {
      if (msg.find(needle) == std::string::npos) {
        check(false, label + ": message \"" + msg + "\" lacks \"" + std::string(needle) + "\"", line);
        return;
      }
    }
    check(true, label, line);
    return;
  } catch (const std::exception& e) {
    check(false, label + ": threw a non-GgufError: " + e.what(), line);
    return;
  }
  check(false, label + ": did not throw", line);
}
#define EXPECT_GGUF_ERROR(label, expr, ...) \
  ::gguf_test::expect_gguf_error((label), [&] { (void)(expr); }, {__VA_ARGS__}, __LINE__)

inline int summary(const char* name) {
  std::printf("%s: %d passed, %d failed\n", name, g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}

// Little-endian byte sink.
struct Bytes {
  std::vector<uint8_t> b;
  template <class T>
  void put(T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    b.insert(b.end(), tmp, tmp + sizeof(T));
  }
  void put_str(std::string_view s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
  }
  void append(const std::vector<uint8_t>& other) { b.insert(b.end(), other.begin(), other.end()); }
  template <class T>
  void patch(size_t pos, T v) {
    std::memcpy(b.data() + pos, &v, sizeof(T));
  }
  size_t size() const { return b.size(); }
};

using sovren::GgufValueType;

struct TensorSpec {
  std::string name;
  uint32_t type;
  std::vector<uint64_t> ne;
  std::vector<uint8_t> data;
  uint64_t offset;  // relative to the data section
};

// Builds GGUF files. Metadata is appended in call order; tensors are laid out in call order, each at the next
// aligned offset unless given one. `layout` records where things landed so tests can patch bytes precisely.
class GgufBuilder {
 public:
  uint32_t version = 3;
  uint64_t alignment = 32;  // used for layout; call set_alignment() to also write general.alignment
  bool override_counts = false;
  uint64_t tensor_count_value = 0, kv_count_value = 0;

  struct Layout {
    size_t kv_start = 0;
    std::vector<size_t> tensor_info_pos;  // start of each tensor info (its name length)
    size_t data_start = 0;
  } layout;

  template <class T>
  void add(std::string_view key, GgufValueType type, T value) {
    begin(key, type);
    kv_.put<T>(value);
  }
  void add_string(std::string_view key, std::string_view value) {
    begin(key, GgufValueType::STRING);
    kv_.put_str(value);
  }
  template <class T>
  void add_array(std::string_view key, GgufValueType elem, const std::vector<T>& values) {
    begin(key, GgufValueType::ARRAY);
    kv_.put<uint32_t>(static_cast<uint32_t>(elem));
    kv_.put<uint64_t>(values.size());
    for (const T& v : values) kv_.put<T>(v);
  }
  void add_string_array(std::string_view key, const std::vector<std::string>& values) {
    begin(key, GgufValueType::ARRAY);
    kv_.put<uint32_t>(static_cast<uint32_t>(GgufValueType::STRING));
    kv_.put<uint64_t>(values.size());
    for (const auto& v : values) kv_.put_str(v);
  }
  // Any value encoding, written verbatim after the key and type tag.
  void add_raw(std::string_view key, uint32_t raw_type, const std::vector<uint8_t>& payload) {
    kv_.put_str(key);
    kv_.put<uint32_t>(raw_type);
    kv_.append(payload);
    ++n_kv_;
  }
  void set_alignment(uint32_t a) {
    alignment = a;
    add<uint32_t>("general.alignment", GgufValueType::UINT32, a);
  }

  void add_tensor(std::string name, uint32_t type, std::vector<uint64_t> ne, std::vector<uint8_t> data,
                  uint64_t offset = UINT64_MAX) {
    if (offset == UINT64_MAX) {
      offset = 0;
      for (const auto& t : tensors_) offset = std::max(offset, align(t.offset + t.data.size()));
    }
    tensors_.push_back({std::move(name), type, std::move(ne), std::move(data), offset});
  }

  std::vector<uint8_t> build() {
    Bytes out;
    out.b = {'G', 'G', 'U', 'F'};
    out.put<uint32_t>(version);
    out.put<uint64_t>(override_counts ? tensor_count_value : tensors_.size());
    out.put<uint64_t>(override_counts ? kv_count_value : n_kv_);
    layout.kv_start = out.size();
    out.append(kv_.b);
    layout.tensor_info_pos.clear();
    for (const auto& t : tensors_) {
      layout.tensor_info_pos.push_back(out.size());
      out.put_str(t.name);
      out.put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
      for (uint64_t n : t.ne) out.put<uint64_t>(n);
      out.put<uint32_t>(t.type);
      out.put<uint64_t>(t.offset);
    }
    if (!tensors_.empty()) out.b.resize(align(out.size()), 0);
    layout.data_start = out.size();
    for (const auto& t : tensors_) {
      if (t.offset > (uint64_t{1} << 30)) continue;  // deliberately absurd offsets get no data
      const size_t end = layout.data_start + t.offset + t.data.size();
      if (out.b.size() < end) out.b.resize(end, 0);
      std::memcpy(out.b.data() + layout.data_start + t.offset, t.data.data(), t.data.size());
    }
    return out.b;
  }

 private:
  void begin(std::string_view key, GgufValueType type) {
    kv_.put_str(key);
    kv_.put<uint32_t>(static_cast<uint32_t>(type));
    ++n_kv_;
  }
  uint64_t align(uint64_t x) const { return (x + alignment - 1) / alignment * alignment; }

  Bytes kv_;
  uint64_t n_kv_ = 0;
  std::vector<TensorSpec> tensors_;
};

inline std::vector<uint8_t> pattern_bytes(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

// Parses from an exact-size heap copy so that AddressSanitizer sees any read past the end.
inline std::unique_ptr<sovren::GgufFile> parse_copy(const std::vector<uint8_t>& bytes, size_t n,
                                                    std::vector<uint8_t>& storage) {
  storage.assign(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
  storage.shrink_to_fit();
  return sovren::GgufFile::from_buffer(storage.data(), storage.size());
}

// A small but complete model-like file: metadata of several types and tensors of every supported type.
inline std::vector<uint8_t> sample_model_file(uint32_t version = 3) {
  GgufBuilder g;
  g.version = version;
  g.add_string("general.architecture", "llama");
  g.add<uint32_t>("llama.block_count", GgufValueType::UINT32, 2);
  g.add<float>("llama.attention.layer_norm_rms_epsilon", GgufValueType::FLOAT32, 1e-5f);
  g.add_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "hello"});
  g.add_array<float>("tokenizer.ggml.scores", GgufValueType::FLOAT32, {0.f, -1.f, -2.f, -3.5f});
  g.add_array<int32_t>("tokenizer.ggml.token_type", GgufValueType::INT32, {2, 3, 3, 1});
  g.add<uint8_t>("tokenizer.ggml.add_bos_token", GgufValueType::BOOL, 1);
  g.add_tensor("token_embd.weight", 1 /*F16*/, {8, 4}, pattern_bytes(8 * 4 * 2, 1));
  g.add_tensor("blk.0.attn_q.weight", 8 /*Q8_0*/, {32, 2}, pattern_bytes(2 * 34, 2));
  g.add_tensor("output_norm.weight", 0 /*F32*/, {8}, pattern_bytes(8 * 4, 3));
  return g.build();
}

// The metadata of a tiny llama-family model (`arch`.* sizes) and a SentencePiece-style vocabulary of n_vocab tokens
// (<unk>, <s>, </s>, then single characters): the header the model tests put their random weights under.
struct TinyLlamaDims {
  std::string arch = "llama";
  uint32_t context = 0, embd = 0, layers = 0, ff = 0, heads = 0, heads_kv = 0;
};
inline void add_tiny_llama_header(GgufBuilder& g, const TinyLlamaDims& d, int n_vocab, std::string_view name) {
  g.add_string("general.architecture", d.arch);
  g.add_string("general.name", name);
  g.add<uint32_t>(d.arch + ".context_length", GgufValueType::UINT32, d.context);
  g.add<uint32_t>(d.arch + ".embedding_length", GgufValueType::UINT32, d.embd);
  g.add<uint32_t>(d.arch + ".block_count", GgufValueType::UINT32, d.layers);
  g.add<uint32_t>(d.arch + ".feed_forward_length", GgufValueType::UINT32, d.ff);
  g.add<uint32_t>(d.arch + ".attention.head_count", GgufValueType::UINT32, d.heads);
  g.add<uint32_t>(d.arch + ".attention.head_count_kv", GgufValueType::UINT32, d.heads_kv);
  g.add<float>(d.arch + ".attention.layer_norm_rms_epsilon", GgufValueType::FLOAT32, 1e-5f);
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<float> scores = {0.0f, 0.0f, 0.0f};
  std::vector<int32_t> types = {2, 3, 3};
  for (int i = 3; i < n_vocab; ++i) {
    tokens.push_back(std::string(1, static_cast<char>('!' + i)));
    scores.push_back(-static_cast<float>(i));
    types.push_back(1);
  }
  g.add_string("tokenizer.ggml.model", "llama");
  g.add_string_array("tokenizer.ggml.tokens", tokens);
  g.add_array<float>("tokenizer.ggml.scores", GgufValueType::FLOAT32, scores);
  g.add_array<int32_t>("tokenizer.ggml.token_type", GgufValueType::INT32, types);
}

// A deterministic prompt of ordinary tokens (ids 3..n_vocab-1) of a tiny header's vocabulary; salt varies it.
inline std::vector<int32_t> tiny_prompt(int length, int salt, int n_vocab) {
  std::vector<int32_t> ids;
  for (int i = 0; i < length; ++i) ids.push_back(3 + (i * 7 + salt * 13) % (n_vocab - 3));
  return ids;
}

}  // namespace gguf_test
