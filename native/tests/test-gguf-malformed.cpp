// GGUF reader on broken files: every truncation, absurd count, bad header, bad alignment, bad tensor geometry or
// placement, and random byte corruption must end in a GgufError naming the problem, never a crash or a huge
// allocation. Run under AddressSanitizer (SOVREN_ASAN=ON) to also catch any read past the buffer.
#include <cstdio>
#include <limits>
#include <random>

#include "test-gguf-builder.h"

using namespace gguf_test;
using sovren::GgufFile;

namespace {

constexpr uint64_t kHuge63 = uint64_t{1} << 63;
constexpr uint64_t kHuge60 = uint64_t{1} << 60;

std::vector<uint8_t> header(uint32_t version, uint64_t tensors, uint64_t kvs) {
  Bytes b;
  b.b = {'G', 'G', 'U', 'F'};
  b.put<uint32_t>(version);
  b.put<uint64_t>(tensors);
  b.put<uint64_t>(kvs);
  return b.b;
}

void parse(const std::vector<uint8_t>& bytes) {
  std::vector<uint8_t> storage;
  parse_copy(bytes, bytes.size(), storage);
}

// Touches everything a caller could reach, so ASan sees any bad view or pointer the reader handed out.
volatile size_t g_sink = 0;  // keeps the exercised reads from being optimised away

void exercise(const GgufFile& f) {
  size_t sink = 0;
  for (const auto& key : f.keys()) {
    sink += f.type_of(key).has_value();
    sink += f.array_type_of(key).has_value();
    sink += f.describe_value(key, 4).size();
    auto attempt = [&](auto&& get) {
      try {
        get();
      } catch (const sovren::GgufError&) {
        ++sink;  // refusals are expected for most key/getter pairs; the point is that nothing else happens
      }
    };
    attempt([&] {
      for (char c : f.get_string(key)) sink += static_cast<size_t>(c);
    });
    attempt([&] { sink += f.get_uint(key); });
    attempt([&] { sink += static_cast<size_t>(f.get_int(key)); });
    attempt([&] { sink += static_cast<size_t>(f.get_float(key)); });
    attempt([&] { sink += f.get_bool(key); });
    attempt([&] { sink += f.array_size(key); });
    attempt([&] {
      for (auto s : f.get_string_array(key))
        for (char c : s) sink += static_cast<size_t>(c);
    });
    attempt([&] {
      for (float v : f.get_f32_array(key)) sink += static_cast<size_t>(v != 0);
    });
    attempt([&] {
      for (int32_t v : f.get_i32_array(key)) sink += static_cast<size_t>(v);
    });
  }
  for (const auto& t : f.tensors()) {
    sink += t.data[0] + t.data[t.nbytes - 1];
    sink += f.find_tensor(t.name) == &t;
  }
  g_sink = sink;
}

void test_every_truncation() {
  // Both files end exactly at their last tensor's data, so every strict prefix is invalid.
  GgufBuilder rich;
  rich.add_string("general.architecture", "llama");
  rich.add_array<uint16_t>("a.u16", GgufValueType::UINT16, {1, 2, 3});
  rich.add_string_array("tokens", {"<s>", "hello", ""});
  rich.add<double>("f64", GgufValueType::FLOAT64, 2.0);
  rich.set_alignment(8);
  rich.add_tensor("q4k", 12, {256}, pattern_bytes(144, 9));
  rich.add_tensor("f32", 0, {3}, pattern_bytes(12, 4));
  for (const auto& bytes : {sample_model_file(3), sample_model_file(2), rich.build()}) {
    int ok = 0;
    for (size_t n = 0; n < bytes.size(); ++n) {
      std::vector<uint8_t> storage;
      try {
        parse_copy(bytes, n, storage);
        check(false, "prefix of " + std::to_string(n) + " bytes parsed without error", __LINE__);
      } catch (const sovren::GgufError&) {
        ++ok;
      } catch (const std::exception& e) {
        check(false, "prefix of " + std::to_string(n) + " bytes threw a non-GgufError: " + e.what(), __LINE__);
      }
    }
    CHECK_MSG(ok == static_cast<int>(bytes.size()), "all " + std::to_string(bytes.size()) + " prefixes rejected");
    parse(bytes);  // and the whole file is fine
  }

  // The message names the key and the offset where reading stopped.
  const auto bytes = sample_model_file();
  const std::string_view hello = "hello";
  const auto it = std::search(bytes.begin(), bytes.end(), hello.begin(), hello.end());
  const size_t cut = static_cast<size_t>(it - bytes.begin()) + 2;
  std::vector<uint8_t> storage;
  EXPECT_GGUF_ERROR("string cut short", parse_copy(bytes, cut, storage), "key #3 ('tokenizer.ggml.tokens')",
                    "string length 5", "exceeds the 2 bytes left");
  GgufBuilder no_tensors;
  no_tensors.add_string("general.architecture", "llama");
  auto cut_value = no_tensors.build();
  cut_value.resize(4 + 4 + 8 + 8 + 8 + 20 + 4 + 2);  // inside the value's length field
  EXPECT_GGUF_ERROR("value cut short", parse(cut_value),
                    "truncated while reading key #0 ('general.architecture') at offset 56");
  EXPECT_GGUF_ERROR("header cut short", parse(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 10)),
                    "truncated while reading tensor count at offset 8");
}

void test_header() {
  EXPECT_GGUF_ERROR("empty", parse({}), "too small");
  EXPECT_GGUF_ERROR("3 bytes", parse({'G', 'G', 'U'}), "too small");
  auto bad_magic = header(3, 0, 0);
  bad_magic[3] = 'L';
  EXPECT_GGUF_ERROR("bad magic", parse(bad_magic), "bad magic", "47 47 55 4c");
  EXPECT_GGUF_ERROR("version 1", parse(header(1, 0, 0)), "version 1 is not supported");
  EXPECT_GGUF_ERROR("version 4", parse(header(4, 0, 0)), "unsupported version 4");
  EXPECT_GGUF_ERROR("version 0", parse(header(0, 0, 0)), "unsupported version 0");
  EXPECT_GGUF_ERROR("big endian", parse(header(0x03000000u, 0, 0)), "big-endian");
  parse(header(3, 0, 0));  // an empty v3 file is valid
  parse(header(2, 0, 0));
}

void test_absurd_counts() {
  EXPECT_GGUF_ERROR("tensor count 2^63", parse(header(3, kHuge63, 0)), "tensor count 9223372036854775808");
  EXPECT_GGUF_ERROR("tensor count max", parse(header(3, UINT64_MAX, 0)), "tensor count");
  EXPECT_GGUF_ERROR("kv count 2^63", parse(header(3, 0, kHuge63)), "metadata count 9223372036854775808");
  EXPECT_GGUF_ERROR("kv count max", parse(header(3, 0, UINT64_MAX)), "metadata count");
  // Counts just beyond what the bytes could hold.
  auto one_kv = header(3, 0, 2);
  Bytes kv;
  kv.put_str("k");
  kv.put<uint32_t>(0);
  kv.put<uint8_t>(1);
  one_kv.insert(one_kv.end(), kv.b.begin(), kv.b.end());
  EXPECT_GGUF_ERROR("kv count 2 with room for 1", parse(one_kv), "metadata count 2");

  for (uint64_t len : {kHuge63, UINT64_MAX, uint64_t{1000}}) {
    Bytes b;
    b.b = header(3, 0, 1);
    b.put<uint64_t>(len);
    b.put<uint32_t>(0);
    b.put<uint8_t>(0);
    EXPECT_GGUF_ERROR("key length " + std::to_string(len), parse(b.b), "string length " + std::to_string(len),
                      "key #0");
  }
  {
    GgufBuilder g;
    Bytes v;
    v.put<uint64_t>(kHuge63);
    g.add_raw("s", static_cast<uint32_t>(GgufValueType::STRING), v.b);
    EXPECT_GGUF_ERROR("string value length 2^63", parse(g.build()), "string length 9223372036854775808",
                      "key #0 ('s')");
  }
  const std::pair<GgufValueType, uint64_t> arrays[] = {
      {GgufValueType::UINT8, kHuge60}, {GgufValueType::UINT64, kHuge60 * 4}, {GgufValueType::STRING, kHuge60},
      {GgufValueType::ARRAY, kHuge60}, {GgufValueType::FLOAT64, UINT64_MAX}, {GgufValueType::INT32, 3}};
  for (auto [elem, count] : arrays) {
    GgufBuilder g;
    Bytes v;
    v.put<uint32_t>(static_cast<uint32_t>(elem));
    v.put<uint64_t>(count);
    v.put<uint64_t>(0);  // a few bytes of "elements"
    g.add_raw("arr", static_cast<uint32_t>(GgufValueType::ARRAY), v.b);
    EXPECT_GGUF_ERROR("array count " + std::to_string(count), parse(g.build()), "array count " + std::to_string(count),
                      "key #0 ('arr')");
  }
}

std::vector<uint8_t> nested_array(int depth) {
  Bytes v;
  for (int d = 1; d < depth; ++d) {
    v.put<uint32_t>(static_cast<uint32_t>(GgufValueType::ARRAY));
    v.put<uint64_t>(1);
  }
  v.put<uint32_t>(static_cast<uint32_t>(GgufValueType::UINT8));
  v.put<uint64_t>(1);
  v.put<uint8_t>(5);
  return v.b;
}

void test_value_encodings() {
  {
    GgufBuilder g;
    g.add_raw("deep4", static_cast<uint32_t>(GgufValueType::ARRAY), nested_array(4));
    const auto bytes = g.build();
    auto f = GgufFile::from_buffer(bytes.data(), bytes.size());
    CHECK(f->describe_value("deep4") == "[[[[5]]]]");
  }
  {
    GgufBuilder g;
    g.add_raw("deep5", static_cast<uint32_t>(GgufValueType::ARRAY), nested_array(5));
    EXPECT_GGUF_ERROR("nesting depth 5", parse(g.build()), "deeper than 4", "'deep5'");
  }
  {
    GgufBuilder g;
    g.add<uint8_t>("ok", GgufValueType::UINT8, 1);
    g.add_raw("weird", 13, {0, 0, 0, 0});
    EXPECT_GGUF_ERROR("unknown value type", parse(g.build()), "key #1 ('weird')", "unknown value type 13");
  }
  {
    GgufBuilder g;
    Bytes v;
    v.put<uint32_t>(99);
    v.put<uint64_t>(0);
    g.add_raw("arr", static_cast<uint32_t>(GgufValueType::ARRAY), v.b);
    EXPECT_GGUF_ERROR("unknown element type", parse(g.build()), "'arr'", "unknown array element type 99");
  }
  {
    GgufBuilder g;
    g.add<uint8_t>("dup", GgufValueType::UINT8, 1);
    g.add<uint8_t>("other", GgufValueType::UINT8, 1);
    g.add_string("dup", "x");
    EXPECT_GGUF_ERROR("duplicate key", parse(g.build()), "duplicate key 'dup'", "key #2", "key #0");
  }
}

void test_alignment_values() {
  auto with_alignment = [](auto value, GgufValueType type) {
    GgufBuilder g;
    g.add("general.alignment", type, value);
    return g.build();
  };
  EXPECT_GGUF_ERROR("alignment 0", parse(with_alignment(uint32_t{0}, GgufValueType::UINT32)), "general.alignment is 0");
  EXPECT_GGUF_ERROR("alignment 48", parse(with_alignment(uint32_t{48}, GgufValueType::UINT32)),
                    "general.alignment is 48", "power of two");
  EXPECT_GGUF_ERROR("alignment -32", parse(with_alignment(int32_t{-32}, GgufValueType::INT32)),
                    "general.alignment is -32");
  EXPECT_GGUF_ERROR("alignment 2^40", parse(with_alignment(uint64_t{1} << 40, GgufValueType::UINT64)),
                    "general.alignment is 1099511627776");
  EXPECT_GGUF_ERROR("alignment float", parse(with_alignment(32.0f, GgufValueType::FLOAT32)),
                    "general.alignment has type float32");
  const auto ok = with_alignment(uint16_t{64}, GgufValueType::UINT16);
  CHECK(GgufFile::from_buffer(ok.data(), ok.size())->alignment() == 64);
}

// A file whose single tensor info has the given fields (data sized to match when it can).
std::vector<uint8_t> one_tensor(uint32_t type, std::vector<uint64_t> ne, uint64_t offset = 0, size_t data = 64) {
  GgufBuilder g;
  g.add_tensor("blk.3.attn_q.weight", type, std::move(ne), pattern_bytes(data, 1), offset);
  return g.build();
}

void test_tensor_geometry() {
  EXPECT_GGUF_ERROR("0 dims", parse(one_tensor(0, {})), "'blk.3.attn_q.weight' has 0 dimensions");
  EXPECT_GGUF_ERROR("5 dims", parse(one_tensor(0, {1, 1, 1, 1, 1})), "has 5 dimensions");
  EXPECT_GGUF_ERROR("ne 0", parse(one_tensor(0, {4, 0})), "dimension 1 is 0");
  EXPECT_GGUF_ERROR("ne 2^63", parse(one_tensor(0, {kHuge63})), "dimension 0 is 9223372036854775808");
  EXPECT_GGUF_ERROR("element overflow", parse(one_tensor(0, {uint64_t{1} << 32, uint64_t{1} << 32})),
                    "element count overflows");
  EXPECT_GGUF_ERROR("byte overflow", parse(one_tensor(0, {uint64_t{1} << 31, uint64_t{1} << 31})),
                    "byte size overflows");
  EXPECT_GGUF_ERROR("huge tensor", parse(one_tensor(0, {uint64_t{1} << 20, uint64_t{1} << 20})), "extends past end");
  EXPECT_GGUF_ERROR("unsupported Q5_K", parse(one_tensor(13, {256})), "'blk.3.attn_q.weight'", "unsupported type Q5_K",
                    "id 13");
  EXPECT_GGUF_ERROR("unknown type id", parse(one_tensor(1234, {4})), "unsupported type unknown (id 1234)");
  EXPECT_GGUF_ERROR("Q4_0 ragged row", parse(one_tensor(2, {33})), "row length 33", "Q4_0 block size 32");
  EXPECT_GGUF_ERROR("Q6_K ragged row", parse(one_tensor(14, {128, 2})), "row length 128", "Q6_K block size 256");
  EXPECT_GGUF_ERROR("misaligned", parse(one_tensor(0, {4}, 16)), "offset 16 is not a multiple of the alignment 32");
  EXPECT_GGUF_ERROR("offset far away", parse(one_tensor(0, {4}, kHuge63)), "offset 9223372036854775808",
                    "extends past end of file");
  EXPECT_GGUF_ERROR("offset max aligned", parse(one_tensor(0, {4}, UINT64_MAX - 31)), "extends past end of file");

  auto exact = one_tensor(0, {16}, 0, 64);
  parse(exact);
  exact.pop_back();
  EXPECT_GGUF_ERROR("one byte short", parse(exact),
                    "tensor 'blk.3.attn_q.weight' data [offset 0, 64 bytes] extends past end of file",
                    "size " + std::to_string(exact.size()));
}

void test_tensor_placement() {
  {
    GgufBuilder g;
    g.add_tensor("a", 0, {4}, pattern_bytes(16, 1));
    g.add_tensor("a", 0, {4}, pattern_bytes(16, 1));
    EXPECT_GGUF_ERROR("duplicate tensor", parse(g.build()), "duplicate tensor name 'a'");
  }
  {
    GgufBuilder g;
    g.add_tensor("a", 0, {16}, pattern_bytes(64, 1), 0);
    g.add_tensor("b", 0, {4}, pattern_bytes(16, 1), 32);
    EXPECT_GGUF_ERROR("partial overlap", parse(g.build()),
                      "tensors 'a' [offset 0, 64 bytes] and 'b' [offset 32, 16 bytes] overlap");
  }
  {
    GgufBuilder g;
    g.add_tensor("x", 0, {4}, pattern_bytes(16, 1), 64);
    g.add_tensor("y", 0, {8}, pattern_bytes(32, 1), 64);
    EXPECT_GGUF_ERROR("same offset", parse(g.build()), "overlap");
  }
  {
    // Adjacent (touching) tensors are fine, in any order in the info table.
    GgufBuilder g;
    g.set_alignment(16);
    g.add_tensor("late", 0, {4}, pattern_bytes(16, 1), 16);
    g.add_tensor("early", 0, {4}, pattern_bytes(16, 2), 0);
    parse(g.build());
  }
  {
    // Infos end, the file ends before the padded start of the data section.
    Bytes b;
    b.b = header(3, 1, 1);
    b.put_str("general.alignment");
    b.put<uint32_t>(static_cast<uint32_t>(GgufValueType::UINT32));
    b.put<uint32_t>(4096);
    b.put_str("t");
    b.put<uint32_t>(1);
    b.put<uint64_t>(1);
    b.put<uint32_t>(0);
    b.put<uint64_t>(0);
    EXPECT_GGUF_ERROR("data section past end", parse(b.b), "data section would start at offset 4096");
  }
}

void test_random_corruption() {
  std::mt19937_64 rng(20240601);
  GgufBuilder g;
  g.add_string("general.architecture", "llama");
  g.add_array<int32_t>("ints", GgufValueType::INT32, {1, -2, 3});
  g.add_string_array("tokens", {"a", "bb", "ccc"});
  g.add<float>("eps", GgufValueType::FLOAT32, 1e-5f);
  g.add_tensor("w", 8, {32, 2}, pattern_bytes(68, 3));
  g.add_tensor("n", 0, {4}, pattern_bytes(16, 4));
  const std::vector<std::vector<uint8_t>> bases = {g.build(), sample_model_file()};
  const uint8_t interesting[] = {0x00, 0x01, 0x02, 0x04, 0x08, 0x0c, 0x0e, 0x1e, 0x20, 0x7f, 0x80, 0xff};
  int parsed = 0, rejected = 0, wrong = 0;
  for (int iter = 0; iter < 40000; ++iter) {
    std::vector<uint8_t> bytes = bases[static_cast<size_t>(iter) % bases.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % bytes.size();
      bytes[pos] = (rng() & 1) ? interesting[rng() % sizeof(interesting)] : static_cast<uint8_t>(rng());
    }
    if (rng() % 8 == 0) bytes.resize(rng() % (bytes.size() + 1));
    std::vector<uint8_t> storage;
    try {
      auto f = parse_copy(bytes, bytes.size(), storage);
      exercise(*f);
      ++parsed;
    } catch (const sovren::GgufError&) {
      ++rejected;
    } catch (const std::exception& e) {
      if (wrong++ < 5) check(false, std::string("non-GgufError on corrupted input: ") + e.what(), __LINE__);
    }
  }
  std::printf("random corruption: %d parsed, %d rejected\n", parsed, rejected);
  CHECK(wrong == 0);
  CHECK(parsed > 0 && rejected > 0);  // the mutations reach both outcomes
}

}  // namespace

int main() {
  try {
    test_every_truncation();
    test_header();
    test_absurd_counts();
    test_value_encodings();
    test_alignment_values();
    test_tensor_geometry();
    test_tensor_placement();
    test_random_corruption();
  } catch (const std::exception& e) {
    check(false, std::string("unexpected exception: ") + e.what(), __LINE__);
  }
  return summary("test-gguf-malformed");
}
