// Writes whisper.cpp-format model files (ggml-*.bin) in memory for the C++ tests and the fuzz seed corpus.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace whisper_test {

struct Bin {
  std::vector<uint8_t> b;
  void i32(int32_t v) {
    uint8_t raw[4];
    std::memcpy(raw, &v, 4);
    b.insert(b.end(), raw, raw + 4);
  }
  void f32(float v) {
    uint8_t raw[4];
    std::memcpy(raw, &v, 4);
    b.insert(b.end(), raw, raw + 4);
  }
  void bytes(const std::string& s) { b.insert(b.end(), s.begin(), s.end()); }
  void zeros(size_t n) { b.insert(b.end(), n, 0); }
};

struct TinyShape {
  int32_t n_vocab = 51865, n_audio_ctx = 8, n_audio_state = 8, n_audio_head = 2, n_audio_layer = 1;
  int32_t n_text_ctx = 8, n_text_state = 8, n_text_head = 2, n_text_layer = 1, n_mels = 4, ftype = 0;
};

inline void write_header(Bin& out, const TinyShape& s) {
  out.i32(0x67676d6c);
  for (int32_t v : {s.n_vocab, s.n_audio_ctx, s.n_audio_state, s.n_audio_head, s.n_audio_layer, s.n_text_ctx,
                    s.n_text_state, s.n_text_head, s.n_text_layer, s.n_mels, s.ftype}) {
    out.i32(v);
  }
}

inline void write_filters(Bin& out, int32_t n_mels) {
  out.i32(n_mels);
  out.i32(201);
  for (int32_t m = 0; m < n_mels; ++m) {
    for (int k = 0; k < 201; ++k) out.f32(k == m + 1 ? 1.0f : 0.0f);
  }
}

inline void write_vocab(Bin& out, const std::vector<std::string>& tokens) {
  out.i32(static_cast<int32_t>(tokens.size()));
  for (const auto& t : tokens) {
    out.i32(static_cast<int32_t>(t.size()));
    out.bytes(t);
  }
}

// A tensor whose data is `data_bytes` zero bytes (or exactly what its type and dims need when data_bytes < 0).
inline void write_tensor(Bin& out, const std::string& name, int32_t type, std::vector<int32_t> dims,
                         int64_t data_bytes) {
  out.i32(static_cast<int32_t>(dims.size()));
  out.i32(static_cast<int32_t>(name.size()));
  out.i32(type);
  for (int32_t d : dims) out.i32(d);
  out.bytes(name);
  out.zeros(static_cast<size_t>(data_bytes));
}

// Header, an identity-ish filter bank, a 3-token vocabulary and two tensors (F32 [4 x 2], Q8_0 [32 x 1]).
inline std::vector<uint8_t> small_file(const TinyShape& s = {}) {
  Bin out;
  write_header(out, s);
  write_filters(out, s.n_mels);
  write_vocab(out, {"a", "bc", std::string("\xff\x00", 2)});
  write_tensor(out, "decoder.ln.weight", 0, {4, 2}, 4 * 2 * 4);
  write_tensor(out, "encoder.q8", 8, {32, 1}, 34);
  return out.b;
}

}  // namespace whisper_test
