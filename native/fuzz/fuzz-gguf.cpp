// libFuzzer harness for the GGUF reader: parse arbitrary bytes, then call every getter on every key and touch every
// tensor's first and last byte. Only GgufError may escape the reader; ASan/UBSan flag any bad read or overflow.
#include <cstddef>
#include <cstdint>

#include "gguf/gguf-reader.h"

namespace {

volatile size_t g_sink = 0;  // keeps the reads from being optimised away

template <class F>
void attempt(F&& get) {
  try {
    get();
  } catch (const sovren::GgufError&) {
    g_sink = g_sink + 1;  // most getter/key pairs are refused by design; anything other than GgufError escapes
  }
}

void exercise(const sovren::GgufFile& f) {
  size_t sink = f.version() + f.alignment() + f.file_size() + f.data_offset();
  for (const auto& key : f.keys()) {
    sink += f.has(key);
    sink += f.type_of(key).has_value();
    sink += f.array_type_of(key).has_value();
    sink += f.describe_value(key).size();
    sink += f.describe_value(key, 1).size();
    attempt([&] {
      for (char c : f.get_string(key)) sink += static_cast<unsigned char>(c);
    });
    attempt([&] { sink += f.get_uint(key); });
    attempt([&] { sink += static_cast<size_t>(f.get_int(key)); });
    attempt([&] { sink += f.get_float(key) != 0.0; });
    attempt([&] { sink += f.get_bool(key); });
    attempt([&] { sink += f.get_uint_or(key, 1); });
    attempt([&] { sink += f.get_float_or(key, 1.0) != 0.0; });
    attempt([&] { sink += f.get_string_or(key, "x").size(); });
    attempt([&] { sink += f.get_bool_or(key, true); });
    attempt([&] { sink += f.array_size(key); });
    attempt([&] {
      for (auto s : f.get_string_array(key)) {
        for (char c : s) sink += static_cast<unsigned char>(c);
      }
    });
    attempt([&] {
      for (float v : f.get_f32_array(key)) sink += v != 0.0f;
    });
    attempt([&] {
      for (int32_t v : f.get_i32_array(key)) sink += static_cast<uint32_t>(v);
    });
  }
  for (const auto& t : f.tensors()) {
    sink += t.data[0] + t.data[t.nbytes - 1] + static_cast<size_t>(t.n_elements()) + t.n_dims;
    sink += f.find_tensor(t.name) == &t;
  }
  g_sink = g_sink + sink;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto file = sovren::GgufFile::from_buffer(data, size);
    exercise(*file);
  } catch (const sovren::GgufError&) {
    // Rejected input: the expected outcome for most mutations.
  }
  return 0;
}
