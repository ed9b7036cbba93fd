// GGUF v2/v3 parsing and validation. Every count, length and offset read from the file is checked against the bytes
// that remain before anything is read or allocated, so a hostile or truncated file ends in a GgufError, never a crash.
#include "gguf/gguf-reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <sstream>

namespace sovren {

static_assert(std::endian::native == std::endian::little, "the GGUF reader assumes a little-endian host");

namespace {

constexpr uint32_t kMaxArrayDepth = 4;        // arrays nested deeper than this are rejected (none exist in practice)
constexpr uint64_t kMaxAlignment = 1u << 30;  // keeps every aligned offset far from 64-bit overflow
constexpr uint64_t kDefaultAlignment = 32;
constexpr size_t kMaxDescribedStringBytes = 256;
// Smallest possible encodings, used to bound counts before looping or allocating.
constexpr uint64_t kMinKeyValueBytes = 8 + 4 + 1;            // empty key, type, one-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // empty name, n_dims, one dim, type, offset

template <class... Parts>
std::string cat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

// ggml's type names for ids the engine does not support, so an error says "Q5_K" rather than only "13".
std::string_view ggml_type_name(uint32_t id) {
  static constexpr std::string_view kNames[] = {"F32",
                                                "F16",
                                                "Q4_0",
                                                "Q4_1",
                                                "Q4_2 (removed)",
                                                "Q4_3 (removed)",
                                                "Q5_0",
                                                "Q5_1",
                                                "Q8_0",
                                                "Q8_1",
                                                "Q2_K",
                                                "Q3_K",
                                                "Q4_K",
                                                "Q5_K",
                                                "Q6_K",
                                                "Q8_K",
                                                "IQ2_XXS",
                                                "IQ2_XS",
                                                "IQ3_XXS",
                                                "IQ1_S",
                                                "IQ4_NL",
                                                "IQ3_S",
                                                "IQ2_S",
                                                "IQ4_XS",
                                                "I8",
                                                "I16",
                                                "I32",
                                                "I64",
                                                "F64",
                                                "IQ1_M",
                                                "BF16",
                                                "Q4_0_4_4",
                                                "Q4_0_4_8",
                                                "Q4_0_8_8",
                                                "TQ1_0",
                                                "TQ2_0",
                                                "IQ4_NL_4_4",
                                                "IQ4_NL_4_8",
                                                "IQ4_NL_8_8",
                                                "MXFP4"};
  return id < std::size(kNames) ? kNames[id] : std::string_view("unknown");
}

bool is_known_value_type(uint32_t raw) { return raw <= static_cast<uint32_t>(GgufValueType::FLOAT64); }

// Bytes of a fixed-size value type, 0 for STRING / ARRAY.
uint64_t fixed_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8:
    case GgufValueType::INT8:
    case GgufValueType::BOOL:
      return 1;
    case GgufValueType::UINT16:
    case GgufValueType::INT16:
      return 2;
    case GgufValueType::UINT32:
    case GgufValueType::INT32:
    case GgufValueType::FLOAT32:
      return 4;
    case GgufValueType::UINT64:
    case GgufValueType::INT64:
    case GgufValueType::FLOAT64:
      return 8;
    case GgufValueType::STRING:
    case GgufValueType::ARRAY:
      return 0;
  }
  return 0;
}

uint64_t min_encoded_size(GgufValueType t) {
  if (t == GgufValueType::STRING) return 8;     // length only
  if (t == GgufValueType::ARRAY) return 4 + 8;  // element type and count
  return fixed_size(t);
}

bool is_integer(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8:
    case GgufValueType::INT8:
    case GgufValueType::UINT16:
    case GgufValueType::INT16:
    case GgufValueType::UINT32:
    case GgufValueType::INT32:
    case GgufValueType::UINT64:
    case GgufValueType::INT64:
      return true;
    default:
      return false;
  }
}

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// An integer of any GGUF width as sign + magnitude, so range checks need no 128-bit arithmetic.
struct IntegerValue {
  bool negative;
  uint64_t magnitude;
};

IntegerValue load_integer(GgufValueType t, const uint8_t* p) {
  auto from_signed = [](int64_t v) {
    return v < 0 ? IntegerValue{true, static_cast<uint64_t>(-(v + 1)) + 1}
                 : IntegerValue{false, static_cast<uint64_t>(v)};
  };
  switch (t) {
    case GgufValueType::UINT8:
      return {false, load<uint8_t>(p)};
    case GgufValueType::INT8:
      return from_signed(load<int8_t>(p));
    case GgufValueType::UINT16:
      return {false, load<uint16_t>(p)};
    case GgufValueType::INT16:
      return from_signed(load<int16_t>(p));
    case GgufValueType::UINT32:
      return {false, load<uint32_t>(p)};
    case GgufValueType::INT32:
      return from_signed(load<int32_t>(p));
    case GgufValueType::UINT64:
      return {false, load<uint64_t>(p)};
    case GgufValueType::INT64:
      return from_signed(load<int64_t>(p));
    default:
      return {false, 0};
  }
}

std::string integer_text(IntegerValue v) { return v.negative ? cat('-', v.magnitude) : cat(v.magnitude); }

template <class F>
std::string float_text(F value) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, res.ptr);
}

// Quoted with control characters escaped; bytes >= 0x80 pass through (UTF-8 is not validated).
std::string quoted(std::string_view s, size_t max_bytes) {
  size_t shown = s.size();
  if (shown > max_bytes) {
    shown = max_bytes;
    while (shown > 0 && (static_cast<uint8_t>(s[shown]) & 0xC0) == 0x80) --shown;  // don't split a UTF-8 sequence
  }
  std::string out = "\"";
  for (size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  if (shown < s.size()) out += cat("... (", s.size(), " bytes)");
  return out;
}

// Bounds-checked cursor over the file. `where()` names what is being read so every error is precise.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }
  void set_context(const char* what, uint64_t index, std::string_view name) {
    what_ = what;
    index_ = index;
    name_ = name;
  }
  void set_name(std::string_view name) { name_ = name; }

  std::string where() const {
    std::string s = what_;
    if (index_ != kNoIndex) s += cat(" #", index_);
    if (!name_.empty()) s += cat(" ('", name_, "')");
    return s;
  }

  void need(uint64_t n, size_t start) const {
    if (n > size_ - pos_) {
      throw GgufError(cat("GGUF: truncated while reading ", where(), " at offset ", start, " (need ", n, " bytes, ",
                          size_ - pos_, " left in a file of ", size_, " bytes)"));
    }
  }

  template <class T>
  T read() {
    need(sizeof(T), pos_);
    T v = load<T>(data_ + pos_);
    pos_ += sizeof(T);
    return v;
  }

  void skip(uint64_t n) {
    need(n, pos_);
    pos_ += n;
  }

  std::string_view read_string() {
    const size_t start = pos_;
    const uint64_t len = read<uint64_t>();
    if (len > remaining()) {
      throw GgufError(cat("GGUF: string length ", len, " in ", where(), " at offset ", start, " exceeds the ",
                          remaining(), " bytes left in the file (size ", size_, ")"));
    }
    std::string_view s(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return s;
  }

  GgufValueType read_value_type(const char* role) {
    const size_t start = pos_;
    const uint32_t raw = read<uint32_t>();
    if (!is_known_value_type(raw)) {
      throw GgufError(cat("GGUF: ", where(), " has unknown ", role, " type ", raw, " at offset ", start));
    }
    return static_cast<GgufValueType>(raw);
  }

  // Array header after the ARRAY tag: element type and count, with the count bounded by the bytes left.
  std::pair<GgufValueType, uint64_t> read_array_header() {
    const GgufValueType elem = read_value_type("array element");
    const size_t count_pos = pos_;
    const uint64_t count = read<uint64_t>();
    const uint64_t min_size = min_encoded_size(elem);
    if (count > remaining() / min_size) {
      throw GgufError(cat("GGUF: array count ", count, " of ", gguf_value_type_name(elem), " in ", where(),
                          " at offset ", count_pos, " needs at least ", min_size, " bytes each but only ", remaining(),
                          " bytes are left"));
    }
    return {elem, count};
  }

  // Validates and skips one value of type t (depth counts enclosing arrays).
  void skip_value(GgufValueType t, uint32_t depth) {
    if (t == GgufValueType::STRING) {
      read_string();
      return;
    }
    if (t != GgufValueType::ARRAY) {
      skip(fixed_size(t));
      return;
    }
    if (depth + 1 > kMaxArrayDepth) {
      throw GgufError(cat("GGUF: ", where(), " nests arrays deeper than ", kMaxArrayDepth, " levels at offset ", pos_));
    }
    auto [elem, count] = read_array_header();
    skip_elements(elem, count, depth + 1);
  }

  void skip_elements(GgufValueType elem, uint64_t count, uint32_t depth) {
    if (elem != GgufValueType::STRING && elem != GgufValueType::ARRAY) {
      skip(count * fixed_size(elem));  // count was bounded by remaining / size: no overflow
      return;
    }
    for (uint64_t i = 0; i < count; ++i) skip_value(elem, depth);
  }

 private:
  static constexpr uint64_t kNoIndex = std::numeric_limits<uint64_t>::max();
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const char* what_ = "header";
  uint64_t index_ = kNoIndex;
  std::string_view name_;
};

// Reads strings and scalars of an already validated value region (the parse pass checked every length).
std::string_view string_at(const uint8_t* data, size_t pos, size_t* next) {
  const uint64_t len = load<uint64_t>(data + pos);
  *next = pos + 8 + len;
  return std::string_view(reinterpret_cast<const char*>(data + pos + 8), len);
}

// End offset of `count` already validated elements of type `elem` starting at `pos`.
size_t elements_end(const uint8_t* data, GgufValueType elem, uint64_t count, size_t pos) {
  if (elem != GgufValueType::STRING && elem != GgufValueType::ARRAY) return pos + count * fixed_size(elem);
  for (uint64_t i = 0; i < count; ++i) {
    if (elem == GgufValueType::STRING) {
      pos += 8 + load<uint64_t>(data + pos);
    } else {
      const auto inner_type = static_cast<GgufValueType>(load<uint32_t>(data + pos));
      const uint64_t inner_count = load<uint64_t>(data + pos + 4);
      pos = elements_end(data, inner_type, inner_count, pos + 12);
    }
  }
  return pos;
}

}  // namespace

std::string_view gguf_value_type_name(GgufValueType type) {
  switch (type) {
    case GgufValueType::UINT8:
      return "uint8";
    case GgufValueType::INT8:
      return "int8";
    case GgufValueType::UINT16:
      return "uint16";
    case GgufValueType::INT16:
      return "int16";
    case GgufValueType::UINT32:
      return "uint32";
    case GgufValueType::INT32:
      return "int32";
    case GgufValueType::FLOAT32:
      return "float32";
    case GgufValueType::BOOL:
      return "bool";
    case GgufValueType::STRING:
      return "string";
    case GgufValueType::ARRAY:
      return "array";
    case GgufValueType::UINT64:
      return "uint64";
    case GgufValueType::INT64:
      return "int64";
    case GgufValueType::FLOAT64:
      return "float64";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------------------------
// Read-only file mapping (RAII).

class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw GgufError(cat("GGUF: cannot open '", path, "': ", std::strerror(errno)));
    struct FdCloser {
      int fd;
      ~FdCloser() { ::close(fd); }
    } closer{fd};  // the mapping outlives the descriptor
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw GgufError(cat("GGUF: cannot stat '", path, "': ", std::strerror(errno)));
    if (!S_ISREG(st.st_mode)) throw GgufError(cat("GGUF: '", path, "' is not a regular file"));
    if (st.st_size == 0) throw GgufError(cat("GGUF: '", path, "' is empty"));
    size_ = static_cast<size_t>(st.st_size);
    void* addr = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED)
      throw GgufError(cat("GGUF: cannot map '", path, "' (", size_, " bytes): ", std::strerror(errno)));
    addr_ = addr;
  }
  ~MappedFile() {
    if (addr_ != nullptr) ::munmap(addr_, size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return static_cast<const uint8_t*>(addr_); }
  size_t size() const { return size_; }

 private:
  void* addr_ = nullptr;
  size_t size_ = 0;
};

// ---------------------------------------------------------------------------------------------------------------

GgufFile::GgufFile(std::unique_ptr<MappedFile> mapping, const uint8_t* data, size_t size)
    : mapping_(std::move(mapping)), data_(data), size_(size) {}

GgufFile::~GgufFile() = default;

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
  auto mapping = std::make_unique<MappedFile>(path);
  const uint8_t* data = mapping->data();
  const size_t size = mapping->size();
  std::unique_ptr<GgufFile> file(new GgufFile(std::move(mapping), data, size));
  try {
    file->parse();
  } catch (const GgufError& e) {
    throw GgufError(cat(e.what(), " [file '", path, "']"));
  }
  return file;
}

std::unique_ptr<GgufFile> GgufFile::from_buffer(const uint8_t* data, size_t size) {
  if (data == nullptr && size != 0) throw GgufError("GGUF: null buffer with non-zero size");
  std::unique_ptr<GgufFile> file(new GgufFile(nullptr, data, size));
  file->parse();
  return file;
}

void GgufFile::parse() {
  if (size_ < 4) throw GgufError(cat("GGUF: file too small to be GGUF (", size_, " bytes)"));
  if (std::memcmp(data_, "GGUF", 4) != 0) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string got;
    for (int i = 0; i < 4; ++i) {
      got += kHex[data_[i] >> 4];
      got += kHex[data_[i] & 15];
      if (i < 3) got += ' ';
    }
    throw GgufError(cat("GGUF: bad magic (bytes ", got, "), expected \"GGUF\" (47 47 55 46)"));
  }
  Cursor cur(data_, size_);
  cur.skip(4);
  cur.set_context("version", std::numeric_limits<uint64_t>::max(), {});
  version_ = cur.read<uint32_t>();
  if (version_ == 1) throw GgufError("GGUF: version 1 is not supported (only versions 2 and 3 are)");
  if (version_ != 2 && version_ != 3) {
    const uint32_t swapped = __builtin_bswap32(version_);
    if (swapped == 2 || swapped == 3) {
      throw GgufError(cat("GGUF: big-endian GGUF (version ", swapped, ") is not supported"));
    }
    throw GgufError(cat("GGUF: unsupported version ", version_, " (only versions 2 and 3 are supported)"));
  }

  cur.set_context("tensor count", std::numeric_limits<uint64_t>::max(), {});
  const uint64_t tensor_count = cur.read<uint64_t>();
  cur.set_context("metadata count", std::numeric_limits<uint64_t>::max(), {});
  const uint64_t kv_count = cur.read<uint64_t>();
  if (tensor_count > cur.remaining() / kMinTensorInfoBytes) {
    throw GgufError(cat("GGUF: tensor count ", tensor_count, " is impossible: each tensor info takes at least ",
                        kMinTensorInfoBytes, " bytes and only ", cur.remaining(), " bytes follow the header"));
  }
  if (kv_count > cur.remaining() / kMinKeyValueBytes) {
    throw GgufError(cat("GGUF: metadata count ", kv_count, " is impossible: each key/value takes at least ",
                        kMinKeyValueBytes, " bytes and only ", cur.remaining(), " bytes follow the header"));
  }

  // Metadata. Vectors grow as entries are actually read, so a lying count cannot force a large allocation.
  for (uint64_t i = 0; i < kv_count; ++i) {
    cur.set_context("key", i, {});
    const std::string_view key = cur.read_string();
    cur.set_name(key);
    if (kv_index_.count(key) != 0) {
      throw GgufError(cat("GGUF: duplicate key '", key, "' (key #", i, ", first seen as key #", kv_index_[key], ")"));
    }
    KeyValue kv{key, cur.read_value_type("value"), cur.pos()};
    if (kv.type == GgufValueType::ARRAY) {
      auto [elem, count] = cur.read_array_header();
      kv.elem_type = elem;
      kv.count = count;
      kv.elems_pos = cur.pos();
      cur.skip_elements(elem, count, 1);
    } else {
      cur.skip_value(kv.type, 0);
    }
    kv_index_.emplace(key, kvs_.size());
    kvs_.push_back(kv);
  }

  if (const KeyValue* kv = lookup("general.alignment")) {
    if (!is_integer(kv->type)) {
      throw GgufError(
          cat("GGUF: general.alignment has type ", gguf_value_type_name(kv->type), ", expected an unsigned integer"));
    }
    const IntegerValue v = load_integer(kv->type, data_ + kv->value_pos);
    if (v.negative || v.magnitude == 0 || !std::has_single_bit(v.magnitude) || v.magnitude > kMaxAlignment) {
      throw GgufError(cat("GGUF: general.alignment is ", integer_text(v), ", expected a power of two between 1 and ",
                          kMaxAlignment));
    }
    alignment_ = v.magnitude;
  } else {
    alignment_ = kDefaultAlignment;
  }

  // Tensor infos.
  for (uint64_t i = 0; i < tensor_count; ++i) {
    cur.set_context("tensor info", i, {});
    GgufTensorInfo t;
    const std::string_view name = cur.read_string();
    cur.set_name(name);
    t.name = std::string(name);
    if (tensor_index_.count(name) != 0) {
      throw GgufError(cat("GGUF: duplicate tensor name '", name, "' (tensor #", i, ", first seen as tensor #",
                          tensor_index_[name], ")"));
    }
    t.n_dims = cur.read<uint32_t>();
    if (t.n_dims < 1 || t.n_dims > 4) {
      throw GgufError(cat("GGUF: tensor '", name, "' has ", t.n_dims, " dimensions (must be 1 to 4)"));
    }
    uint64_t elements = 1;
    for (uint32_t d = 0; d < t.n_dims; ++d) {
      const uint64_t ne = cur.read<uint64_t>();
      if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        throw GgufError(cat("GGUF: tensor '", name, "' dimension ", d, " is ", ne, " (must be between 1 and 2^63-1)"));
      }
      if (elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / ne) {
        throw GgufError(cat("GGUF: tensor '", name, "' element count overflows 64 bits"));
      }
      elements *= ne;
      t.ne[d] = static_cast<int64_t>(ne);
    }
    const uint32_t raw_type = cur.read<uint32_t>();
    const auto traits = tensor_type_traits(raw_type);
    if (!traits) {
      throw GgufError(
          cat("GGUF: tensor '", name, "' has unsupported type ", ggml_type_name(raw_type), " (id ", raw_type, ")"));
    }
    t.type = traits->type;
    const auto row_bytes = tensor_row_bytes(t.type, static_cast<uint64_t>(t.ne[0]));
    if (!row_bytes) {
      throw GgufError(cat("GGUF: tensor '", name, "' row length ", t.ne[0], " is not a multiple of the ", traits->name,
                          " block size ", traits->block_elements));
    }
    const uint64_t rows = elements / static_cast<uint64_t>(t.ne[0]);
    if (*row_bytes != 0 && rows > std::numeric_limits<uint64_t>::max() / *row_bytes) {
      throw GgufError(cat("GGUF: tensor '", name, "' byte size overflows 64 bits"));
    }
    t.nbytes = *row_bytes * rows;
    t.offset = cur.read<uint64_t>();
    if (t.offset % alignment_ != 0) {
      throw GgufError(
          cat("GGUF: tensor '", name, "' offset ", t.offset, " is not a multiple of the alignment ", alignment_));
    }
    tensor_index_.emplace(name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  // The data section starts at the next alignment boundary after the tensor infos.
  const uint64_t end_of_infos = cur.pos();
  data_offset_ = (end_of_infos + alignment_ - 1) / alignment_ * alignment_;
  if (!tensors_.empty() && data_offset_ > size_) {
    throw GgufError(cat("GGUF: tensor data section would start at offset ", data_offset_,
                        ", past the end of the file (size ", size_, ")"));
  }
  for (auto& t : tensors_) {
    const uint64_t available = data_offset_ <= size_ ? size_ - data_offset_ : 0;
    if (t.offset > available || t.nbytes > available - t.offset) {
      throw GgufError(cat("GGUF: tensor '", t.name, "' data [offset ", t.offset, ", ", t.nbytes,
                          " bytes] extends past end of file (data section starts at ", data_offset_, ", file size ",
                          size_, ")"));
    }
    t.data = data_ + data_offset_ + t.offset;
  }
  std::vector<const GgufTensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const auto& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensorInfo& a = *by_offset[i - 1];
    const GgufTensorInfo& b = *by_offset[i];
    if (a.offset + a.nbytes > b.offset) {
      throw GgufError(cat("GGUF: tensors '", a.name, "' [offset ", a.offset, ", ", a.nbytes, " bytes] and '", b.name,
                          "' [offset ", b.offset, ", ", b.nbytes, " bytes] overlap"));
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Metadata access.

const GgufFile::KeyValue* GgufFile::lookup(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kvs_[it->second];
}

const GgufFile::KeyValue& GgufFile::require(std::string_view key) const {
  const KeyValue* kv = lookup(key);
  if (kv == nullptr) throw GgufError(cat("GGUF: missing key '", key, "'"));
  return *kv;
}

static std::string type_text(GgufValueType type, GgufValueType elem) {
  if (type == GgufValueType::ARRAY) return cat("array<", gguf_value_type_name(elem), ">");
  return std::string(gguf_value_type_name(type));
}

static GgufError wrong_type(std::string_view key, GgufValueType type, GgufValueType elem, const char* expected) {
  return GgufError(cat("GGUF: key '", key, "' has type ", type_text(type, elem), ", expected ", expected));
}

const GgufFile::KeyValue& GgufFile::require_array(std::string_view key) const {
  const KeyValue& kv = require(key);
  if (kv.type != GgufValueType::ARRAY) throw wrong_type(key, kv.type, kv.elem_type, "an array");
  return kv;
}

bool GgufFile::has(std::string_view key) const { return lookup(key) != nullptr; }

std::optional<GgufValueType> GgufFile::type_of(std::string_view key) const {
  const KeyValue* kv = lookup(key);
  if (kv == nullptr) return std::nullopt;
  return kv->type;
}

std::optional<GgufValueType> GgufFile::array_type_of(std::string_view key) const {
  const KeyValue* kv = lookup(key);
  if (kv == nullptr || kv->type != GgufValueType::ARRAY) return std::nullopt;
  return kv->elem_type;
}

std::string_view GgufFile::get_string(std::string_view key) const {
  const KeyValue& kv = require(key);
  if (kv.type != GgufValueType::STRING) throw wrong_type(key, kv.type, kv.elem_type, "string");
  size_t next = 0;
  return string_at(data_, kv.value_pos, &next);
}

uint64_t GgufFile::get_uint(std::string_view key) const {
  const KeyValue& kv = require(key);
  if (!is_integer(kv.type)) throw wrong_type(key, kv.type, kv.elem_type, "an unsigned integer");
  const IntegerValue v = load_integer(kv.type, data_ + kv.value_pos);
  if (v.negative) throw GgufError(cat("GGUF: key '", key, "' is ", integer_text(v), ", expected a non-negative value"));
  return v.magnitude;
}

int64_t GgufFile::get_int(std::string_view key) const {
  const KeyValue& kv = require(key);
  if (!is_integer(kv.type)) throw wrong_type(key, kv.type, kv.elem_type, "an integer");
  const IntegerValue v = load_integer(kv.type, data_ + kv.value_pos);
  constexpr uint64_t kMaxPositive = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (!v.negative && v.magnitude > kMaxPositive) {
    throw GgufError(cat("GGUF: key '", key, "' value ", v.magnitude, " does not fit a signed 64-bit integer"));
  }
  return v.negative ? static_cast<int64_t>(~(v.magnitude - 1)) : static_cast<int64_t>(v.magnitude);
}

double GgufFile::get_float(std::string_view key) const {
  const KeyValue& kv = require(key);
  if (kv.type == GgufValueType::FLOAT32) return load<float>(data_ + kv.value_pos);
  if (kv.type == GgufValueType::FLOAT64) return load<double>(data_ + kv.value_pos);
  throw wrong_type(key, kv.type, kv.elem_type, "float32 or float64");
}

bool GgufFile::get_bool(std::string_view key) const {
  const KeyValue& kv = require(key);
  if (kv.type != GgufValueType::BOOL) throw wrong_type(key, kv.type, kv.elem_type, "bool");
  return data_[kv.value_pos] != 0;
}

uint64_t GgufFile::get_uint_or(std::string_view key, uint64_t fallback) const {
  return has(key) ? get_uint(key) : fallback;
}
double GgufFile::get_float_or(std::string_view key, double fallback) const {
  return has(key) ? get_float(key) : fallback;
}
std::string_view GgufFile::get_string_or(std::string_view key, std::string_view fallback) const {
  return has(key) ? get_string(key) : fallback;
}
bool GgufFile::get_bool_or(std::string_view key, bool fallback) const { return has(key) ? get_bool(key) : fallback; }

size_t GgufFile::array_size(std::string_view key) const { return require_array(key).count; }

std::vector<std::string_view> GgufFile::get_string_array(std::string_view key) const {
  const KeyValue& kv = require_array(key);
  if (kv.elem_type != GgufValueType::STRING) throw wrong_type(key, kv.type, kv.elem_type, "array<string>");
  std::vector<std::string_view> out;
  out.reserve(kv.count);  // bounded by the file size at parse time
  size_t pos = kv.elems_pos;
  for (uint64_t i = 0; i < kv.count; ++i) out.push_back(string_at(data_, pos, &pos));
  return out;
}

std::vector<float> GgufFile::get_f32_array(std::string_view key) const {
  const KeyValue& kv = require_array(key);
  std::vector<float> out(kv.count);
  const uint8_t* p = data_ + kv.elems_pos;
  if (kv.elem_type == GgufValueType::FLOAT32) {
    if (kv.count != 0) std::memcpy(out.data(), p, kv.count * sizeof(float));
  } else if (kv.elem_type == GgufValueType::FLOAT64) {
    for (uint64_t i = 0; i < kv.count; ++i) out[i] = static_cast<float>(load<double>(p + i * 8));
  } else {
    throw wrong_type(key, kv.type, kv.elem_type, "array<float32> or array<float64>");
  }
  return out;
}

std::vector<int32_t> GgufFile::get_i32_array(std::string_view key) const {
  const KeyValue& kv = require_array(key);
  if (!is_integer(kv.elem_type)) throw wrong_type(key, kv.type, kv.elem_type, "an array of integers");
  const uint64_t size = fixed_size(kv.elem_type);
  std::vector<int32_t> out(kv.count);
  const uint8_t* p = data_ + kv.elems_pos;
  for (uint64_t i = 0; i < kv.count; ++i) {
    const IntegerValue v = load_integer(kv.elem_type, p + i * size);
    if (v.negative ? v.magnitude > (uint64_t{1} << 31) : v.magnitude > uint64_t{INT32_MAX}) {
      throw GgufError(cat("GGUF: key '", key, "' element ", i, " is ", integer_text(v),
                          ", which does not fit a signed 32-bit integer"));
    }
    out[i] = v.negative ? static_cast<int32_t>(-static_cast<int64_t>(v.magnitude)) : static_cast<int32_t>(v.magnitude);
  }
  return out;
}

std::vector<std::string> GgufFile::keys() const {
  std::vector<std::string> out;
  out.reserve(kvs_.size());
  for (const auto& kv : kvs_) out.emplace_back(kv.key);
  return out;
}

std::string GgufFile::describe_scalar(GgufValueType type, size_t pos, size_t* next) const {
  const uint8_t* p = data_ + pos;
  switch (type) {
    case GgufValueType::STRING:
      return quoted(string_at(data_, pos, next), kMaxDescribedStringBytes);
    case GgufValueType::BOOL:
      *next = pos + 1;
      return *p != 0 ? "true" : "false";
    case GgufValueType::FLOAT32:
      *next = pos + 4;
      return float_text(load<float>(p));
    case GgufValueType::FLOAT64:
      *next = pos + 8;
      return float_text(load<double>(p));
    case GgufValueType::ARRAY:
      *next = pos;
      return "array";  // handled by describe_array
    default:
      *next = pos + fixed_size(type);
      return integer_text(load_integer(type, p));
  }
}

std::string GgufFile::describe_array(GgufValueType elem_type, uint64_t count, size_t pos, size_t max_items,
                                     size_t* next) const {
  std::string out = "[";
  const uint64_t shown = std::min<uint64_t>(count, max_items);
  for (uint64_t i = 0; i < shown; ++i) {
    if (i != 0) out += ", ";
    if (elem_type == GgufValueType::ARRAY) {
      const auto inner_type = static_cast<GgufValueType>(load<uint32_t>(data_ + pos));
      const uint64_t inner_count = load<uint64_t>(data_ + pos + 4);
      out += describe_array(inner_type, inner_count, pos + 12, max_items, &pos);
    } else {
      out += describe_scalar(elem_type, pos, &pos);
    }
  }
  if (shown < count) out += cat(", ... (", count, " items)");
  out += "]";
  *next = elements_end(data_, elem_type, count - shown, pos);  // skip what was not shown
  return out;
}

std::string GgufFile::describe_value(std::string_view key, size_t max_array_items) const {
  const KeyValue& kv = require(key);
  size_t next = 0;
  if (kv.type != GgufValueType::ARRAY) return describe_scalar(kv.type, kv.value_pos, &next);
  return describe_array(kv.elem_type, kv.count, kv.elems_pos, max_array_items, &next);
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace sovren
