// whisper.cpp model file reader. Every count is checked against the bytes that remain before anything is read or
// allocated, so a hostile or truncated file ends in a WhisperFileError, never a crash.
#include "whisper/whisper-file.h"

#include "gguf/gguf-reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <unordered_set>

namespace sovren {
namespace {

template <class... Parts>
std::string cat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

constexpr std::array<WhisperTypeInfo, 7> kTypes = {{
    {WhisperTensorType::F32, "F32", 1, 4},
    {WhisperTensorType::F16, "F16", 1, 2},
    {WhisperTensorType::Q4_0, "Q4_0", 32, 18},
    {WhisperTensorType::Q4_1, "Q4_1", 32, 20},
    {WhisperTensorType::Q5_0, "Q5_0", 32, 22},
    {WhisperTensorType::Q5_1, "Q5_1", 32, 24},
    {WhisperTensorType::Q8_0, "Q8_0", 32, 34},
}};

constexpr int32_t kMaxVocab = 1 << 20;
constexpr int32_t kMaxAudioCtx = 1500;  // 3000 mel frames (30 s) through the stride-2 convolution
constexpr int32_t kMaxTextCtx = 1 << 16;
constexpr int32_t kMaxState = 1 << 16;
constexpr int32_t kMaxLayers = 1024;
constexpr int32_t kMaxMels = 1024;
constexpr int32_t kMaxNameLength = 1024;

// Bounds-checked little-endian cursor over the buffer.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }
  bool at_end() const { return pos_ == size_; }

  int32_t i32(const char* what) {
    need(4, what);
    int32_t v;
    std::memcpy(&v, data_ + pos_, 4);
    pos_ += 4;
    return v;
  }
  const uint8_t* bytes(uint64_t n, const char* what) {
    need(n, what);
    const uint8_t* p = data_ + pos_;
    pos_ += static_cast<size_t>(n);
    return p;
  }

 private:
  void need(uint64_t n, const char* what) const {
    if (n > remaining()) {
      throw WhisperFileError(
          cat("whisper model: truncated ", what, " at byte ", pos_, " (needs ", n, " bytes, ", remaining(), " left)"));
    }
  }
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

void require_range(const char* name, int32_t value, int32_t max) {
  if (value < 1 || value > max) {
    throw WhisperFileError(cat("whisper model: hparam ", name, " = ", value, " is outside 1..", max));
  }
}

void validate_hparams(const WhisperHParams& h) {
  require_range("n_vocab", h.n_vocab, kMaxVocab);
  require_range("n_audio_ctx", h.n_audio_ctx, kMaxAudioCtx);
  require_range("n_audio_state", h.n_audio_state, kMaxState);
  require_range("n_audio_head", h.n_audio_head, h.n_audio_state);
  require_range("n_audio_layer", h.n_audio_layer, kMaxLayers);
  require_range("n_text_ctx", h.n_text_ctx, kMaxTextCtx);
  require_range("n_text_state", h.n_text_state, kMaxState);
  require_range("n_text_head", h.n_text_head, h.n_text_state);
  require_range("n_text_layer", h.n_text_layer, kMaxLayers);
  require_range("n_mels", h.n_mels, kMaxMels);
  if (h.ftype < 0) throw WhisperFileError(cat("whisper model: negative ftype ", h.ftype));
  if (h.n_audio_state % h.n_audio_head != 0 || h.n_text_state % h.n_text_head != 0) {
    throw WhisperFileError(cat("whisper model: state sizes ", h.n_audio_state, " / ", h.n_text_state,
                               " are not multiples of the head counts ", h.n_audio_head, " / ", h.n_text_head));
  }
}

void check_finite_filters(const std::vector<float>& filters) {
  for (float v : filters) {
    if (!std::isfinite(v)) throw WhisperFileError("whisper model: mel filter bank holds a non-finite value");
  }
}

// GPT-2's bytes_to_unicode() inverted: code point -> byte, -1 for a code point no byte maps to. The printable
// bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for themselves; the other 68 bytes, in order, for U+0100...
std::array<int16_t, 256 + 68> byte_level_decoder() {
  std::array<int16_t, 256 + 68> table{};
  table.fill(-1);
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    table[static_cast<size_t>(printable ? b : next++)] = static_cast<int16_t>(b);
  }
  return table;
}

// One token of tokenizer.ggml.tokens (GPT-2 byte-level text) back to its bytes.
std::string byte_level_bytes(std::string_view text, size_t index) {
  static const auto decoder = byte_level_decoder();
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto b0 = static_cast<uint8_t>(text[i]);
    uint32_t cp = 0;
    if (b0 < 0x80) {
      cp = b0;
      i += 1;
    } else if ((b0 & 0xE0) == 0xC0 && i + 1 < text.size() && (static_cast<uint8_t>(text[i + 1]) & 0xC0) == 0x80) {
      cp = (static_cast<uint32_t>(b0 & 0x1F) << 6) | (static_cast<uint8_t>(text[i + 1]) & 0x3F);
      i += 2;
    } else {
      cp = UINT32_MAX;  // longer or malformed sequences encode no byte
    }
    if (cp >= decoder.size() || decoder[cp] < 0) {
      throw WhisperFileError(cat("whisper model: token ", index,
                                 " of tokenizer.ggml.tokens is not GPT-2 byte-level text (a character that "
                                 "stands for no byte at byte ",
                                 i, ")"));
    }
    out.push_back(static_cast<char>(decoder[cp]));
  }
  return out;
}

// A whisper.* hparam: present, an integer, and within int32 (the ranges are checked with the ggml layout's).
int32_t gguf_hparam(const GgufFile& gguf, const char* key) {
  const uint64_t value = gguf.get_uint(key);
  if (value > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
    throw WhisperFileError(cat("whisper model: ", key, " = ", value, " is too large"));
  }
  return static_cast<int32_t>(value);
}

}  // namespace

const WhisperTypeInfo* whisper_type_info(uint32_t raw_type) {
  for (const auto& t : kTypes) {
    if (static_cast<uint32_t>(t.type) == raw_type) return &t;
  }
  return nullptr;
}

class WhisperMapping {
 public:
  explicit WhisperMapping(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw WhisperFileError(cat("whisper model: cannot open '", path, "': ", std::strerror(errno)));
    struct FdCloser {
      int fd;
      ~FdCloser() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      throw WhisperFileError(cat("whisper model: cannot stat '", path, "': ", std::strerror(errno)));
    }
    if (!S_ISREG(st.st_mode)) throw WhisperFileError(cat("whisper model: '", path, "' is not a regular file"));
    if (st.st_size == 0) throw WhisperFileError(cat("whisper model: '", path, "' is empty"));
    size_ = static_cast<size_t>(st.st_size);
    void* addr = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      throw WhisperFileError(cat("whisper model: cannot map '", path, "': ", std::strerror(errno)));
    }
    addr_ = addr;
  }
  ~WhisperMapping() {
    if (addr_ != nullptr) ::munmap(addr_, size_);
  }
  WhisperMapping(const WhisperMapping&) = delete;
  WhisperMapping& operator=(const WhisperMapping&) = delete;
  const uint8_t* data() const { return static_cast<const uint8_t*>(addr_); }
  size_t size() const { return size_; }

 private:
  void* addr_ = nullptr;
  size_t size_ = 0;
};

WhisperFile::WhisperFile(std::unique_ptr<WhisperMapping> mapping, const uint8_t* data, size_t size)
    : mapping_(std::move(mapping)), data_(data), size_(size) {}

WhisperFile::~WhisperFile() = default;

std::unique_ptr<WhisperFile> WhisperFile::open(const std::string& path) {
  auto mapping = std::make_unique<WhisperMapping>(path);
  const uint8_t* data = mapping->data();
  const size_t size = mapping->size();
  std::unique_ptr<WhisperFile> file(new WhisperFile(std::move(mapping), data, size));
  try {
    file->parse();
  } catch (const WhisperFileError& e) {
    throw WhisperFileError(cat(e.what(), " ('", path, "')"));
  }
  return file;
}

std::unique_ptr<WhisperFile> WhisperFile::from_buffer(const uint8_t* data, size_t size) {
  if (data == nullptr && size != 0) throw WhisperFileError("whisper model: null buffer");
  std::unique_ptr<WhisperFile> file(new WhisperFile(nullptr, data, size));
  file->parse();
  return file;
}

const WhisperFileTensor* WhisperFile::find_tensor(std::string_view name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

void WhisperFile::parse() {
  if (size_ >= 4 && std::memcmp(data_, "GGUF", 4) == 0) {
    parse_gguf();
  } else {
    parse_ggml();
  }
  index_tensors();
}

void WhisperFile::index_tensors() {
  // After the vector stops growing, so the string_view keys stay valid.
  for (size_t i = 0; i < tensors_.size(); ++i) tensor_index_.emplace(tensors_[i].name, i);
}

void WhisperFile::parse_gguf() {
  try {
    gguf_ = GgufFile::from_buffer(data_, size_);
  } catch (const GgufError& e) {
    throw WhisperFileError(cat("whisper model: ", e.what()));
  }
  const GgufFile& g = *gguf_;
  try {
    const std::string_view arch = g.get_string("general.architecture");
    if (arch != kWhisperGgufArchitecture) {
      throw WhisperFileError(cat("whisper model: GGUF general.architecture is '", arch, "', not 'whisper'"));
    }
    WhisperHParams& h = hparams_;
    h.n_vocab = gguf_hparam(g, "whisper.n_vocab");
    h.n_audio_ctx = gguf_hparam(g, "whisper.n_audio_ctx");
    h.n_audio_state = gguf_hparam(g, "whisper.n_audio_state");
    h.n_audio_head = gguf_hparam(g, "whisper.n_audio_head");
    h.n_audio_layer = gguf_hparam(g, "whisper.n_audio_layer");
    h.n_text_ctx = gguf_hparam(g, "whisper.n_text_ctx");
    h.n_text_state = gguf_hparam(g, "whisper.n_text_state");
    h.n_text_head = gguf_hparam(g, "whisper.n_text_head");
    h.n_text_layer = gguf_hparam(g, "whisper.n_text_layer");
    h.n_mels = gguf_hparam(g, "whisper.n_mels");
    // ftype as the ggml layout stores it: quantisation version x 1000 + file type (both optional in GGUF).
    const uint64_t file_type = g.get_uint_or("general.file_type", 0);
    const uint64_t quant_version = g.get_uint_or("general.quantization_version", 0);
    if (file_type > 999 || quant_version > 1000) {
      throw WhisperFileError(cat("whisper model: general.file_type ", file_type, " / general.quantization_version ",
                                 quant_version, " out of range"));
    }
    h.ftype = static_cast<int32_t>(quant_version * 1000 + file_type);
    validate_hparams(h);

    const GgufTensorInfo* filters = g.find_tensor(kWhisperGgufMelFilters);
    if (filters == nullptr) throw WhisperFileError("whisper model: GGUF tensor 'mel_filters' is missing");
    if (filters->type != TensorType::F32 || filters->n_dims != 2 || filters->ne[0] != kWhisperFftBins ||
        filters->ne[1] != h.n_mels) {
      throw WhisperFileError(cat("whisper model: GGUF tensor 'mel_filters' is ", tensor_type_name(filters->type), " ",
                                 filters->ne[0], " x ", filters->ne[1], ", expected F32 ", kWhisperFftBins, " x ",
                                 h.n_mels));
    }
    mel_filters_.resize(static_cast<size_t>(filters->n_elements()));
    std::memcpy(mel_filters_.data(), filters->data, mel_filters_.size() * sizeof(float));
    check_finite_filters(mel_filters_);

    const std::vector<std::string_view> tokens = g.get_string_array("tokenizer.ggml.tokens");
    if (tokens.size() > static_cast<size_t>(h.n_vocab)) {
      throw WhisperFileError(cat("whisper model: tokenizer.ggml.tokens holds ", tokens.size(),
                                 " tokens, more than whisper.n_vocab ", h.n_vocab));
    }
    vocab_bytes_.reserve(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) vocab_bytes_.push_back(byte_level_bytes(tokens[i], i));
    // Views once the strings stopped moving.
    vocab_.assign(vocab_bytes_.begin(), vocab_bytes_.end());
  } catch (const GgufError& e) {
    throw WhisperFileError(cat("whisper model: ", e.what()));
  }

  tensors_.reserve(g.tensors().size());
  for (const GgufTensorInfo& gt : g.tensors()) {
    if (gt.name == kWhisperGgufMelFilters) continue;
    WhisperFileTensor t;
    t.name = gt.name;
    switch (gt.type) {
      case TensorType::F32:
        t.type = WhisperTensorType::F32;
        break;
      case TensorType::F16:
        t.type = WhisperTensorType::F16;
        break;
      case TensorType::Q4_0:
        t.type = WhisperTensorType::Q4_0;
        break;
      case TensorType::Q8_0:
        t.type = WhisperTensorType::Q8_0;
        break;
      default:
        throw WhisperFileError(cat("whisper model: tensor '", gt.name, "' has type ", tensor_type_name(gt.type),
                                   ", which Whisper does not use (supported in GGUF: F32, F16, Q4_0, Q8_0)"));
    }
    // The GGUF reader checked dims, sizes and offsets against the file.
    t.n_dims = static_cast<int>(gt.n_dims);
    for (int d = 0; d < 4; ++d) t.ne[d] = gt.ne[d];
    t.data = gt.data;
    t.nbytes = gt.nbytes;
    tensors_.push_back(std::move(t));
  }
}

void WhisperFile::parse_ggml() {
  Cursor in(data_, size_);
  const uint32_t magic = static_cast<uint32_t>(in.i32("magic"));
  if (magic != kWhisperMagic) {
    throw WhisperFileError(
        cat("whisper model: bad magic 0x", std::hex, magic, " (expected 0x67676d6c 'ggml', or 'GGUF')"));
  }

  WhisperHParams& h = hparams_;
  h.n_vocab = in.i32("hparams");
  h.n_audio_ctx = in.i32("hparams");
  h.n_audio_state = in.i32("hparams");
  h.n_audio_head = in.i32("hparams");
  h.n_audio_layer = in.i32("hparams");
  h.n_text_ctx = in.i32("hparams");
  h.n_text_state = in.i32("hparams");
  h.n_text_head = in.i32("hparams");
  h.n_text_layer = in.i32("hparams");
  h.n_mels = in.i32("hparams");
  h.ftype = in.i32("hparams");
  validate_hparams(h);

  // Mel filter bank.
  const int32_t rows = in.i32("mel filter header");
  const int32_t cols = in.i32("mel filter header");
  if (rows != h.n_mels || cols != kWhisperFftBins) {
    throw WhisperFileError(
        cat("whisper model: mel filter bank is ", rows, " x ", cols, ", expected ", h.n_mels, " x ", kWhisperFftBins));
  }
  const uint64_t n_filter = static_cast<uint64_t>(rows) * static_cast<uint64_t>(cols);
  const uint8_t* filters = in.bytes(n_filter * 4, "mel filter bank");
  mel_filters_.resize(n_filter);
  std::memcpy(mel_filters_.data(), filters, n_filter * 4);
  check_finite_filters(mel_filters_);

  // Vocabulary: each entry takes at least its 4-byte length, which bounds the count before anything is allocated.
  const int32_t n_tokens = in.i32("vocabulary count");
  if (n_tokens < 0 || n_tokens > h.n_vocab || static_cast<uint64_t>(n_tokens) * 4 > in.remaining()) {
    throw WhisperFileError(cat("whisper model: vocabulary count ", n_tokens, " is invalid (n_vocab ", h.n_vocab, ", ",
                               in.remaining(), " bytes left)"));
  }
  vocab_.reserve(static_cast<size_t>(n_tokens));
  for (int32_t i = 0; i < n_tokens; ++i) {
    const int32_t len = in.i32("vocabulary entry");
    if (len < 0) throw WhisperFileError(cat("whisper model: token ", i, " has negative length ", len));
    const uint8_t* bytes = in.bytes(static_cast<uint64_t>(len), "vocabulary entry");
    vocab_.emplace_back(reinterpret_cast<const char*>(bytes), static_cast<size_t>(len));
  }

  // Tensors until the end of the file.
  std::unordered_set<std::string> seen;
  while (!in.at_end()) {
    const size_t header_pos = in.pos();
    const int32_t n_dims = in.i32("tensor header");
    const int32_t name_len = in.i32("tensor header");
    const int32_t raw_type = in.i32("tensor header");
    if (n_dims < 1 || n_dims > 4) {
      throw WhisperFileError(cat("whisper model: tensor at byte ", header_pos, " has ", n_dims, " dimensions"));
    }
    if (name_len < 1 || name_len > kMaxNameLength) {
      throw WhisperFileError(cat("whisper model: tensor at byte ", header_pos, " has name length ", name_len));
    }
    WhisperFileTensor t;
    t.n_dims = n_dims;
    for (int d = 0; d < n_dims; ++d) {
      const int32_t dim = in.i32("tensor dims");
      if (dim < 1) {
        throw WhisperFileError(cat("whisper model: tensor at byte ", header_pos, " has dimension ", d, " = ", dim));
      }
      t.ne[d] = dim;
    }
    const uint8_t* name = in.bytes(static_cast<uint64_t>(name_len), "tensor name");
    t.name.assign(reinterpret_cast<const char*>(name), static_cast<size_t>(name_len));
    const WhisperTypeInfo* info = whisper_type_info(static_cast<uint32_t>(raw_type));
    if (info == nullptr) {
      throw WhisperFileError(cat("whisper model: tensor '", t.name, "' has unsupported type id ", raw_type,
                                 " (supported: F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0)"));
    }
    t.type = info->type;
    if (t.ne[0] % info->block_elements != 0) {
      throw WhisperFileError(cat("whisper model: tensor '", t.name, "' row of ", t.ne[0],
                                 " elements is not a whole number of ", info->name, " blocks"));
    }
    // Each dim < 2^31 and the byte count is checked against the remaining bytes step by step: no overflow.
    uint64_t nbytes = static_cast<uint64_t>(t.ne[0] / info->block_elements) * info->block_bytes;
    for (int d = 1; d < n_dims; ++d) {
      if (nbytes != 0 && static_cast<uint64_t>(t.ne[d]) > in.remaining() / nbytes) {
        throw WhisperFileError(
            cat("whisper model: tensor '", t.name, "' data is larger than the ", in.remaining(), " bytes left"));
      }
      nbytes *= static_cast<uint64_t>(t.ne[d]);
    }
    t.nbytes = nbytes;
    t.data = in.bytes(nbytes, "tensor data");
    if (!seen.insert(t.name).second) {
      throw WhisperFileError(cat("whisper model: tensor '", t.name, "' appears twice"));
    }
    tensors_.push_back(std::move(t));
  }
}

}  // namespace sovren
