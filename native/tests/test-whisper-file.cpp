// whisper.cpp model file reader: a valid file parses to exactly what was written; every truncation, bad count,
// bad geometry and random corruption ends in a WhisperFileError naming the problem, never a crash.
#include <cstdio>
#include <fstream>
#include <functional>
#include <random>

#include <unistd.h>

#include "test-check.h"
#include "test-gguf-builder.h"
#include "test-whisper-builder.h"
#include "whisper/whisper-file.h"

using namespace whisper_test;
using sovren::WhisperFile;
using sovren::WhisperFileError;

namespace {

// Parses a private copy (so ASan sees reads past the end) and touches everything the reader hands out.
void parse(const std::vector<uint8_t>& bytes) {
  std::vector<uint8_t> copy(bytes);
  auto f = WhisperFile::from_buffer(copy.data(), copy.size());
  size_t sink = 0;
  for (float v : f->mel_filters()) sink += v != 0.0f;
  for (auto s : f->vocab()) {
    for (char c : s) sink += static_cast<unsigned char>(c);
  }
  for (const auto& t : f->tensors()) sink += t.data[0] + t.data[t.nbytes - 1];
  (void)sink;
}

// True when parsing throws a WhisperFileError whose message contains `needle`.
bool rejects(const std::vector<uint8_t>& bytes, const std::string& needle) {
  try {
    parse(bytes);
  } catch (const WhisperFileError& e) {
    if (std::string(e.what()).find(needle) != std::string::npos) return true;
    std::printf("  (message was: %s)\n", e.what());
    return false;
  }
  return false;
}

std::vector<uint8_t> with_shape(const std::function<void(TinyShape&)>& edit) {
  TinyShape s;
  edit(s);
  return small_file(s);
}

// Header + filters + empty vocabulary + one tensor written by `tensor`.
std::vector<uint8_t> with_tensor(const std::function<void(Bin&)>& tensor) {
  Bin out;
  TinyShape s;
  write_header(out, s);
  write_filters(out, s.n_mels);
  write_vocab(out, {});
  tensor(out);
  return out.b;
}

void valid_file() {
  const auto bytes = small_file();
  auto f = WhisperFile::from_buffer(bytes.data(), bytes.size());
  const auto& h = f->hparams();
  check(h.n_vocab == 51865 && h.n_audio_ctx == 8 && h.n_text_state == 8 && h.n_mels == 4, "hparams read back");
  check(f->mel_filters().size() == 4 * 201, "filter bank has n_mels x 201 weights");
  check(f->mel_filters()[0 * 201 + 1] == 1.0f && f->mel_filters()[3 * 201 + 4] == 1.0f &&
            f->mel_filters()[3 * 201 + 5] == 0.0f,
        "filter bank values in row-major order");
  check(f->vocab().size() == 3 && f->vocab()[1] == "bc" && f->vocab()[2] == std::string("\xff\x00", 2),
        "vocabulary bytes read back, including NUL and non-UTF-8 bytes");
  check(f->tensors().size() == 2, "two tensors");
  const auto* ln = f->find_tensor("decoder.ln.weight");
  check(ln != nullptr && ln->n_dims == 2 && ln->ne[0] == 4 && ln->ne[1] == 2 && ln->nbytes == 32 &&
            ln->type == sovren::WhisperTensorType::F32,
        "F32 tensor geometry");
  const auto* q = f->find_tensor("encoder.q8");
  check(q != nullptr && q->nbytes == 34 && q->type == sovren::WhisperTensorType::Q8_0, "Q8_0 tensor geometry");
  check(q != nullptr && q->data == bytes.data() + bytes.size() - 34, "tensor data follows its name with no padding");
  check(f->find_tensor("missing") == nullptr, "absent tensor is nullptr");

  auto shape = TinyShape{};
  shape.ftype = 2008;  // quantisation version 2, ggml ftype 8 (Q5_0)
  const auto quant = small_file(shape);
  auto fq = WhisperFile::from_buffer(quant.data(), quant.size());
  check(fq->quant_version() == 2 && fq->base_ftype() == 8, "ftype splits into quantisation version and ftype");

  for (uint32_t id : {3u, 6u, 7u}) {
    const auto* info = sovren::whisper_type_info(id);
    check(info != nullptr && info->block_elements == 32, "quantised type id " + std::to_string(id) + " known");
  }
  check(sovren::whisper_type_info(3)->block_bytes == 20 && sovren::whisper_type_info(6)->block_bytes == 22 &&
            sovren::whisper_type_info(7)->block_bytes == 24,
        "Q4_1 / Q5_0 / Q5_1 block sizes");
}

void every_truncation() {
  const auto bytes = small_file();
  int refused = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<long>(n));
    try {
      parse(cut);
    } catch (const WhisperFileError&) {
      ++refused;
    }
  }
  // Cutting exactly before the first or the second tensor leaves a valid shorter file; every other prefix is refused.
  check(refused == static_cast<int>(bytes.size()) - 2, "every truncation but the tensor boundary is refused (" +
                                                           std::to_string(refused) + " of " +
                                                           std::to_string(bytes.size()) + ")");
}

void bad_headers() {
  auto bad_magic = small_file();
  bad_magic[0] ^= 1;
  check(rejects(bad_magic, "bad magic"), "bad magic");
  check(rejects(with_shape([](TinyShape& s) { s.n_vocab = 0; }), "n_vocab"), "zero n_vocab");
  check(rejects(with_shape([](TinyShape& s) { s.n_vocab = -5; }), "n_vocab"), "negative n_vocab");
  check(rejects(with_shape([](TinyShape& s) { s.n_audio_ctx = 1501; }), "n_audio_ctx"), "audio ctx > 1500");
  check(rejects(with_shape([](TinyShape& s) { s.n_text_layer = 1 << 30; }), "n_text_layer"), "absurd layers");
  check(rejects(with_shape([](TinyShape& s) { s.n_audio_head = 3; }), "multiples of the head counts"),
        "state not a multiple of heads");
  check(rejects(with_shape([](TinyShape& s) { s.n_text_head = 0; }), "n_text_head"), "zero heads");
  check(rejects(with_shape([](TinyShape& s) { s.ftype = -1; }), "ftype"), "negative ftype");

  Bin wrong_cols;
  write_header(wrong_cols, TinyShape{});
  wrong_cols.i32(4);
  wrong_cols.i32(200);
  check(rejects(wrong_cols.b, "mel filter bank is 4 x 200"), "filter bank with 200 columns");
  Bin wrong_rows;
  write_header(wrong_rows, TinyShape{});
  wrong_rows.i32(5);
  wrong_rows.i32(201);
  check(rejects(wrong_rows.b, "expected 4 x 201"), "filter bank rows differ from n_mels");
  Bin nan_filter;
  write_header(nan_filter, TinyShape{});
  write_filters(nan_filter, 4);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(nan_filter.b.data() + 4 * 12 + 8, &nan, 4);
  write_vocab(nan_filter, {});
  check(rejects(nan_filter.b, "non-finite"), "NaN in the filter bank");
}

void bad_vocabulary() {
  auto vocab = [](int32_t count, const std::vector<int32_t>& lengths) {
    Bin out;
    write_header(out, TinyShape{});
    write_filters(out, 4);
    out.i32(count);
    for (int32_t len : lengths) {
      out.i32(len);
      out.zeros(len > 0 && len < 64 ? static_cast<size_t>(len) : 0);  // longer tokens are left unwritten
    }
    return out.b;
  };
  check(rejects(vocab(-1, {}), "vocabulary count -1"), "negative vocabulary count");
  check(rejects(vocab(1 << 30, {}), "vocabulary count"), "vocabulary count larger than n_vocab");
  check(rejects(vocab(51865, {1, 1}), "vocabulary count"), "vocabulary count larger than the bytes left");
  check(rejects(vocab(2, {1, -3}), "negative length"), "negative token length");
  check(rejects(vocab(2, {1, 1 << 30}), "truncated vocabulary entry"), "token longer than the file");
}

void bad_tensors() {
  check(rejects(with_tensor([](Bin& b) { write_tensor(b, "t", 0, {}, 0); }), "0 dimensions"), "zero dims");
  check(rejects(with_tensor([](Bin& b) { write_tensor(b, "t", 0, {1, 1, 1, 1, 1}, 4); }), "5 dimensions"), "five dims");
  check(rejects(with_tensor([](Bin& b) { write_tensor(b, "", 0, {1}, 4); }), "name length 0"), "empty name");
  check(rejects(with_tensor([](Bin& b) {
                  b.i32(1);
                  b.i32(1 << 30);
                  b.i32(0);
                  b.i32(1);
                }),
                "name length"),
        "absurd name length");
  check(rejects(with_tensor([](Bin& b) { write_tensor(b, "t", 0, {0}, 0); }), "dimension 0 = 0"), "zero dim");
  check(rejects(with_tensor([](Bin& b) { write_tensor(b, "t", 0, {4, -2}, 0); }), "dimension 1 = -2"), "negative dim");
  check(rejects(with_tensor([](Bin& b) { write_tensor(b, "encoder.x", 13, {256}, 176); }),
                "'encoder.x' has unsupported type id 13"),
        "unsupported type (Q5_K) is a clear error");
  check(rejects(with_tensor([](Bin& b) { write_tensor(b, "t", 8, {31}, 34); }), "whole number of Q8_0 blocks"),
        "row not a whole number of blocks");
  check(rejects(with_tensor([](Bin& b) {
                  write_tensor(b, "t", 0, {0x7fffffff, 0x7fffffff, 0x7fffffff}, 0);
                }),
                "larger than"),
        "dims whose byte count overflows");
  check(rejects(with_tensor([](Bin& b) {
                  write_tensor(b, "t", 1, {8, 4}, 63);
                }),
                "larger than the 63 bytes left"),
        "2-D tensor data one byte short");
  check(rejects(with_tensor([](Bin& b) { write_tensor(b, "t", 1, {32}, 63); }), "truncated tensor data"),
        "1-D tensor data one byte short");
  check(rejects(with_tensor([](Bin& b) {
                  write_tensor(b, "same", 0, {1}, 4);
                  write_tensor(b, "same", 0, {1}, 4);
                }),
                "appears twice"),
        "duplicate tensor names");
  // Trailing bytes that are too few for a tensor header.
  auto trailing = small_file();
  trailing.push_back(1);
  check(rejects(trailing, "truncated tensor header"), "stray trailing byte");
}

// Flips 1-4 random bytes of `bytes` 4000 times; returns how many parses failed with anything but WhisperFileError.
int non_whisper_errors_under_corruption(const std::vector<uint8_t>& bytes, uint32_t seed) {
  std::mt19937 rng(seed);
  int other = 0;
  for (int round = 0; round < 4000; ++round) {
    auto copy = bytes;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) copy[rng() % copy.size()] = static_cast<uint8_t>(rng());
    try {
      parse(copy);
    } catch (const WhisperFileError&) {
      // expected for most
    } catch (...) {
      ++other;
    }
  }
  return other;
}

void random_corruption() {
  check(non_whisper_errors_under_corruption(small_file(), 1234) == 0,
        "random corruption only ever ends in WhisperFileError");
}

void open_from_disk() {
  const std::string path = "/tmp/test-whisper-file-" + std::to_string(::getpid()) + ".bin";
  {
    const auto bytes = small_file();
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  auto f = WhisperFile::open(path);
  check(f->tensors().size() == 2 && f->file_size() == small_file().size(), "open() maps and parses a file");
  std::remove(path.c_str());
  try {
    WhisperFile::open(path);
    check(false, "missing file refused");
  } catch (const WhisperFileError& e) {
    check(std::string(e.what()).find("cannot open") != std::string::npos, "missing file names the problem");
  }
}

// The GGUF layout of the small file: whisper.* hparams, mel_filters, byte-level tokens, one more tensor.
std::vector<uint8_t> small_gguf(const char* architecture = "whisper", uint32_t n_audio_head = 2) {
  using sovren::GgufValueType;
  gguf_test::GgufBuilder g;
  g.add_string("general.architecture", architecture);
  const std::pair<const char*, uint32_t> hparams[] = {
      {"whisper.n_vocab", 51865},   {"whisper.n_audio_ctx", 8},
      {"whisper.n_audio_state", 8}, {"whisper.n_audio_head", n_audio_head},
      {"whisper.n_audio_layer", 1}, {"whisper.n_text_ctx", 8},
      {"whisper.n_text_state", 8},  {"whisper.n_text_head", 2},
      {"whisper.n_text_layer", 1},  {"whisper.n_mels", 4}};
  for (const auto& [key, value] : hparams) g.add<uint32_t>(key, GgufValueType::UINT32, value);
  g.add<uint32_t>("general.file_type", GgufValueType::UINT32, 7);
  g.add<uint32_t>("general.quantization_version", GgufValueType::UINT32, 2);
  // "ÿĀ" is GPT-2's byte-level text for the bytes FF 00.
  g.add_string_array("tokenizer.ggml.tokens", {"a", "bc", "\xc3\xbf\xc4\x80"});
  std::vector<float> filters(4 * 201, 0.0f);
  for (int m = 0; m < 4; ++m) filters[static_cast<size_t>(m) * 201 + m + 1] = 1.0f;
  std::vector<uint8_t> filter_bytes(filters.size() * 4);
  std::memcpy(filter_bytes.data(), filters.data(), filter_bytes.size());
  g.add_tensor("mel_filters", 0, {201, 4}, filter_bytes);
  g.add_tensor("decoder.ln.weight", 0, {4, 2}, std::vector<uint8_t>(32, 0));
  return g.build();
}

void gguf_layout() {
  const auto bytes = small_gguf();
  auto f = WhisperFile::from_buffer(bytes.data(), bytes.size());
  const auto& h = f->hparams();
  check(f->is_gguf(), "a GGUF file is read as the GGUF layout");
  check(h.n_vocab == 51865 && h.n_audio_ctx == 8 && h.n_audio_head == 2 && h.n_text_layer == 1 && h.n_mels == 4,
        "GGUF hparams read back");
  check(f->quant_version() == 2 && f->base_ftype() == 7, "ftype from general.quantization_version and file_type");
  check(f->mel_filters().size() == 4 * 201 && f->mel_filters()[1] == 1.0f && f->mel_filters()[3 * 201 + 4] == 1.0f,
        "filter bank from the mel_filters tensor");
  check(f->vocab().size() == 3 && f->vocab()[1] == "bc" && f->vocab()[2] == std::string("\xff\x00", 2),
        "byte-level token text decodes to the token bytes");
  const auto* ln = f->find_tensor("decoder.ln.weight");
  check(f->tensors().size() == 1 && ln != nullptr && ln->ne[0] == 4 && ln->ne[1] == 2 && ln->nbytes == 32,
        "tensors other than mel_filters, with their geometry");
  check(rejects(small_gguf("llama"), "general.architecture is 'llama', not 'whisper'"), "another architecture");
  check(rejects(small_gguf("whisper", 3), "multiples of the head counts"), "GGUF hparams validated as ggml ones");

  int refused = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    try {
      parse(std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(n)));
    } catch (const WhisperFileError&) {
      ++refused;
    }
  }
  check(refused == static_cast<int>(bytes.size()), "every truncation of a GGUF file is refused");

  check(non_whisper_errors_under_corruption(bytes, 99) == 0,
        "random corruption of a GGUF file only ever ends in WhisperFileError");
}

}  // namespace

int main(int argc, char** argv) {
  // `test-whisper-file --write-gguf-seed <file>` writes the GGUF layout's seed for native/fuzz/corpus-whisper.
  if (argc == 3 && std::string(argv[1]) == "--write-gguf-seed") {
    const auto bytes = small_gguf();
    std::ofstream out(argv[2], std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return out ? 0 : 1;
  }
  return run_suites({{"valid file", valid_file},
                     {"every truncation", every_truncation},
                     {"bad headers", bad_headers},
                     {"bad vocabulary", bad_vocabulary},
                     {"bad tensors", bad_tensors},
                     {"random corruption", random_corruption},
                     {"GGUF layout", gguf_layout},
                     {"open from disk", open_from_disk}});
}
