// Reader of whisper.cpp's model files (`ggml-*.bin`, written by its convert-pt-to-ggml.py and quantiser): maps the
// file read-only and validates every count, size and offset against the file size. Layout (all little-endian):
//   int32 magic 0x67676d6c ("ggml")
//   int32 hparams: n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
//                  n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype (quant version x 1000 + ftype)
//   mel filter bank: int32 rows (= n_mels), int32 cols (= 201), rows x cols float32
//   vocabulary: int32 count, then per token int32 length + raw bytes (tiktoken ranks in order)
//   tensors until end of file: int32 n_dims, int32 name length, int32 type, n_dims int32 dims (innermost first),
//                              the name, the data (no alignment padding)
// The same model in GGUF (general.architecture = "whisper"; docs/whisper.md has the keys) is read through the
// GGUF reader: hparams from whisper.* keys, the filter bank from the tensor `mel_filters`, the vocabulary from
// tokenizer.ggml.tokens (GPT-2's byte-to-unicode text, decoded back to bytes), the same tensor names.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace sovren {

class WhisperFileError : public EngineError {
 public:
  using EngineError::EngineError;
};

constexpr uint32_t kWhisperMagic = 0x67676d6c;
// Names of the GGUF layout (see the header comment).
constexpr std::string_view kWhisperGgufArchitecture = "whisper";
constexpr std::string_view kWhisperGgufMelFilters = "mel_filters";
constexpr int kWhisperFftBins = 201;  // n_fft / 2 + 1 for the 400-point FFT

// ggml type ids as whisper.cpp writes them (a subset of ggml_type).
enum class WhisperTensorType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
};

struct WhisperTypeInfo {
  WhisperTensorType type;
  std::string_view name;
  uint32_t block_elements;
  uint32_t block_bytes;
};

// Geometry of a raw type id, or nullptr for a type whisper.cpp does not write (the caller names it in its error).
const WhisperTypeInfo* whisper_type_info(uint32_t raw_type);

struct WhisperHParams {
  int32_t n_vocab = 0;
  int32_t n_audio_ctx = 0;
  int32_t n_audio_state = 0;
  int32_t n_audio_head = 0;
  int32_t n_audio_layer = 0;
  int32_t n_text_ctx = 0;
  int32_t n_text_state = 0;
  int32_t n_text_head = 0;
  int32_t n_text_layer = 0;
  int32_t n_mels = 0;
  int32_t ftype = 0;  // as stored: quantisation version * 1000 + ggml ftype
};

struct WhisperFileTensor {
  std::string name;
  WhisperTensorType type = WhisperTensorType::F32;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};   // ne[0] innermost
  const uint8_t* data = nullptr;  // into the mapping
  uint64_t nbytes = 0;

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t rows() const { return ne[1] * ne[2] * ne[3]; }
};

class WhisperMapping;
class GgufFile;

class WhisperFile {
 public:
  // Maps `path` read-only. Throws WhisperFileError naming the path and the problem.
  static std::unique_ptr<WhisperFile> open(const std::string& path);
  // Parses a buffer in place (no copy); the caller keeps it alive as long as the WhisperFile.
  static std::unique_ptr<WhisperFile> from_buffer(const uint8_t* data, size_t size);
  ~WhisperFile();
  WhisperFile(const WhisperFile&) = delete;
  WhisperFile& operator=(const WhisperFile&) = delete;

  const WhisperHParams& hparams() const { return hparams_; }
  int32_t quant_version() const { return hparams_.ftype / 1000; }
  int32_t base_ftype() const { return hparams_.ftype % 1000; }
  size_t file_size() const { return size_; }
  // Whether the file is the GGUF layout (else whisper.cpp's ggml one).
  bool is_gguf() const { return gguf_ != nullptr; }
  // n_mels rows of kWhisperFftBins weights (row m = the weights of mel bin m over the FFT bins).
  const std::vector<float>& mel_filters() const { return mel_filters_; }
  // The regular (tiktoken) tokens' bytes in rank order; views into the mapping.
  const std::vector<std::string_view>& vocab() const { return vocab_; }
  const std::vector<WhisperFileTensor>& tensors() const { return tensors_; }
  const WhisperFileTensor* find_tensor(std::string_view name) const;  // nullptr if absent

 private:
  WhisperFile(std::unique_ptr<WhisperMapping> mapping, const uint8_t* data, size_t size);
  void parse();
  void parse_ggml();
  void parse_gguf();
  void index_tensors();

  std::unique_ptr<WhisperMapping> mapping_;
  std::unique_ptr<GgufFile> gguf_;        // GGUF layout only: views into the same bytes
  std::vector<std::string> vocab_bytes_;  // GGUF layout only: the decoded tokens vocab_ views
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  WhisperHParams hparams_;
  std::vector<float> mel_filters_;
  std::vector<std::string_view> vocab_;
  std::vector<WhisperFileTensor> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

}  // namespace sovren
