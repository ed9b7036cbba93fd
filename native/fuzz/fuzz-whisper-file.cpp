// libFuzzer harness for the Whisper model file reader (whisper.cpp's ggml layout and GGUF): parse arbitrary bytes,
// then touch every filter weight, every vocabulary byte and every tensor's first and last byte. Only
// WhisperFileError may escape the reader.
#include <cstddef>
#include <cstdint>

#include "whisper/whisper-file.h"

namespace {
volatile size_t g_sink = 0;  // keeps the reads from being optimised away
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto file = sovren::WhisperFile::from_buffer(data, size);
    size_t sink = file->hparams().n_vocab + static_cast<size_t>(file->quant_version());
    for (float v : file->mel_filters()) sink += v != 0.0f;
    for (auto token : file->vocab()) {
      for (char c : token) sink += static_cast<unsigned char>(c);
    }
    for (const auto& t : file->tensors()) {
      sink += t.data[0] + t.data[t.nbytes - 1] + static_cast<size_t>(t.n_elements());
      sink += file->find_tensor(t.name) == &t;
    }
    g_sink = g_sink + sink;
  } catch (const sovren::WhisperFileError&) {
    // Rejected input: the expected outcome for most mutations.
  }
  return 0;
}
