// GGUF reader on valid files: every metadata value type round-trips, typed getters convert or refuse as the
// contract says, tensors of every supported type are located exactly, and files open from disk via mmap.
// With `--write-corpus DIR` it instead writes the fuzzer's seed files (see native/fuzz/README.md).
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

#include "test-gguf-builder.h"

using namespace gguf_test;
using sovren::GgufFile;
using sovren::GgufTensorInfo;
using sovren::TensorType;

namespace {

std::vector<uint8_t> every_value_type_file() {
  GgufBuilder g;
  g.add<uint8_t>("v.u8", GgufValueType::UINT8, 200);
  g.add<int8_t>("v.i8", GgufValueType::INT8, -100);
  g.add<uint16_t>("v.u16", GgufValueType::UINT16, 60000);
  g.add<int16_t>("v.i16", GgufValueType::INT16, -30000);
  g.add<uint32_t>("v.u32", GgufValueType::UINT32, 4000000000u);
  g.add<int32_t>("v.i32", GgufValueType::INT32, -2000000000);
  g.add<float>("v.f32", GgufValueType::FLOAT32, 0.15625f);
  g.add<uint8_t>("v.bool", GgufValueType::BOOL, 1);
  g.add<uint8_t>("v.bool_false", GgufValueType::BOOL, 0);
  g.add_string("v.string", "héllo \"world\"\n");
  g.add<uint64_t>("v.u64", GgufValueType::UINT64, 18000000000000000000ull);
  g.add<int64_t>("v.i64", GgufValueType::INT64, std::numeric_limits<int64_t>::min());
  g.add<double>("v.f64", GgufValueType::FLOAT64, -1.0e300);
  g.add_string("v.empty_string", "");
  g.add_array<uint8_t>("a.u8", GgufValueType::UINT8, {1, 2, 255});
  g.add_array<int8_t>("a.i8", GgufValueType::INT8, {-128, 0, 127});
  g.add_array<uint16_t>("a.u16", GgufValueType::UINT16, {0, 65535});
  g.add_array<int16_t>("a.i16", GgufValueType::INT16, {-32768, 32767});
  g.add_array<uint32_t>("a.u32", GgufValueType::UINT32, {7, 2147483647u});
  g.add_array<int32_t>("a.i32", GgufValueType::INT32, {-5, 6, std::numeric_limits<int32_t>::min()});
  g.add_array<float>("a.f32", GgufValueType::FLOAT32, {1.5f, -2.25f, 1e-30f});
  g.add_array<uint8_t>("a.bool", GgufValueType::BOOL, {1, 0});
  g.add_string_array("a.string", {"a", "", "ccc"});
  g.add_array<uint64_t>("a.u64", GgufValueType::UINT64, {1, 2147483648ull});
  g.add_array<int64_t>("a.i64", GgufValueType::INT64, {-3, 4});
  g.add_array<double>("a.f64", GgufValueType::FLOAT64, {0.5, -4.0});
  g.add_array<uint8_t>("a.empty", GgufValueType::UINT8, {});
  // array<array<int32>> with two inner arrays: [[1, 2], [3]]
  Bytes nested;
  nested.put<uint32_t>(static_cast<uint32_t>(GgufValueType::ARRAY));
  nested.put<uint64_t>(2);
  nested.put<uint32_t>(static_cast<uint32_t>(GgufValueType::INT32));
  nested.put<uint64_t>(2);
  nested.put<int32_t>(1);
  nested.put<int32_t>(2);
  nested.put<uint32_t>(static_cast<uint32_t>(GgufValueType::INT32));
  nested.put<uint64_t>(1);
  nested.put<int32_t>(3);
  g.add_raw("a.nested", static_cast<uint32_t>(GgufValueType::ARRAY), nested.b);
  g.add<uint32_t>("after.nested", GgufValueType::UINT32, 77);
  return g.build();
}

void test_every_value_type() {
  const auto bytes = every_value_type_file();
  auto f = GgufFile::from_buffer(bytes.data(), bytes.size());
  CHECK(f->version() == 3);
  CHECK(f->alignment() == 32);
  CHECK(f->file_size() == bytes.size());
  CHECK(f->tensors().empty());
  CHECK(f->keys().size() == 29);
  CHECK(f->keys().front() == "v.u8");
  CHECK(f->keys().back() == "after.nested");

  CHECK(f->get_uint("v.u8") == 200);
  CHECK(f->get_int("v.i8") == -100);
  CHECK(f->get_uint("v.u16") == 60000);
  CHECK(f->get_int("v.i16") == -30000);
  CHECK(f->get_uint("v.u32") == 4000000000u);
  CHECK(f->get_int("v.u32") == 4000000000);
  CHECK(f->get_int("v.i32") == -2000000000);
  CHECK(f->get_float("v.f32") == 0.15625);
  CHECK(f->get_bool("v.bool") == true);
  CHECK(f->get_bool("v.bool_false") == false);
  CHECK(f->get_string("v.string") == "héllo \"world\"\n");
  CHECK(f->get_uint("v.u64") == 18000000000000000000ull);
  CHECK(f->get_int("v.i64") == std::numeric_limits<int64_t>::min());
  CHECK(f->get_float("v.f64") == -1.0e300);
  CHECK(f->get_string("v.empty_string").empty());
  CHECK(f->get_uint("after.nested") == 77);

  CHECK(f->type_of("v.f64") == GgufValueType::FLOAT64);
  CHECK(f->type_of("a.u8") == GgufValueType::ARRAY);
  CHECK(f->array_type_of("a.string") == GgufValueType::STRING);
  CHECK(f->array_type_of("a.nested") == GgufValueType::ARRAY);
  CHECK(!f->array_type_of("v.u8").has_value());
  CHECK(!f->type_of("nope").has_value());
  CHECK(f->has("v.bool") && !f->has("v.boo"));

  CHECK((f->get_i32_array("a.u8") == std::vector<int32_t>{1, 2, 255}));
  CHECK((f->get_i32_array("a.i8") == std::vector<int32_t>{-128, 0, 127}));
  CHECK((f->get_i32_array("a.u16") == std::vector<int32_t>{0, 65535}));
  CHECK((f->get_i32_array("a.i16") == std::vector<int32_t>{-32768, 32767}));
  CHECK((f->get_i32_array("a.u32") == std::vector<int32_t>{7, 2147483647}));
  CHECK((f->get_i32_array("a.i32") == std::vector<int32_t>{-5, 6, std::numeric_limits<int32_t>::min()}));
  CHECK((f->get_i32_array("a.i64") == std::vector<int32_t>{-3, 4}));
  CHECK((f->get_f32_array("a.f32") == std::vector<float>{1.5f, -2.25f, 1e-30f}));
  CHECK((f->get_f32_array("a.f64") == std::vector<float>{0.5f, -4.0f}));
  const auto strings = f->get_string_array("a.string");
  CHECK(strings.size() == 3 && strings[0] == "a" && strings[1].empty() && strings[2] == "ccc");
  CHECK(f->array_size("a.empty") == 0);
  CHECK(f->get_i32_array("a.empty").empty());
  CHECK(f->array_size("a.nested") == 2);
  CHECK(f->array_size("a.bool") == 2);

  CHECK(f->describe_value("v.u8") == "200");
  CHECK(f->describe_value("v.i64") == "-9223372036854775808");
  CHECK(f->describe_value("v.f32") == "0.15625");
  CHECK(f->describe_value("v.bool") == "true");
  CHECK(f->describe_value("v.string") == "\"héllo \\\"world\\\"\\n\"");
  CHECK(f->describe_value("a.string") == "[\"a\", \"\", \"ccc\"]");
  CHECK(f->describe_value("a.i32", 2) == "[-5, 6, ... (3 items)]");
  CHECK(f->describe_value("a.nested") == "[[1, 2], [3]]");
  CHECK(f->describe_value("a.nested", 1) == "[[1, ... (2 items)], ... (2 items)]");
  CHECK(f->describe_value("a.empty") == "[]");
  CHECK(f->describe_value("a.bool") == "[true, false]");
}

void test_getter_conversions_and_refusals() {
  const auto bytes = every_value_type_file();
  auto f = GgufFile::from_buffer(bytes.data(), bytes.size());
  EXPECT_GGUF_ERROR("missing key", f->get_uint("llama.context_length"), "missing key 'llama.context_length'");
  EXPECT_GGUF_ERROR("negative as uint", f->get_uint("v.i8"), "'v.i8'", "-100");
  EXPECT_GGUF_ERROR("u64 beyond int64", f->get_int("v.u64"), "'v.u64'", "does not fit");
  EXPECT_GGUF_ERROR("float as uint", f->get_uint("v.f32"), "'v.f32'", "float32");
  EXPECT_GGUF_ERROR("bool as uint", f->get_uint("v.bool"), "'v.bool'", "bool");
  EXPECT_GGUF_ERROR("int as float", f->get_float("v.u32"), "'v.u32'", "uint32");
  EXPECT_GGUF_ERROR("int as bool", f->get_bool("v.u8"), "'v.u8'", "uint8");
  EXPECT_GGUF_ERROR("int as string", f->get_string("v.u32"), "'v.u32'", "expected string");
  EXPECT_GGUF_ERROR("array as scalar", f->get_uint("a.u8"), "'a.u8'", "array<uint8>");
  EXPECT_GGUF_ERROR("scalar as array", f->array_size("v.u8"), "'v.u8'", "expected an array");
  EXPECT_GGUF_ERROR("i32 array of u64 too big", f->get_i32_array("a.u64"), "'a.u64'", "element 1", "2147483648");
  EXPECT_GGUF_ERROR("f32 array of ints", f->get_f32_array("a.i32"), "'a.i32'", "array<int32>");
  EXPECT_GGUF_ERROR("string array of ints", f->get_string_array("a.i32"), "'a.i32'", "array<string>");
  EXPECT_GGUF_ERROR("i32 array of floats", f->get_i32_array("a.f32"), "'a.f32'");
  EXPECT_GGUF_ERROR("i32 array of strings", f->get_i32_array("a.string"), "'a.string'");
  EXPECT_GGUF_ERROR("describe missing", f->describe_value("nope"), "'nope'");

  CHECK(f->get_uint_or("missing", 42) == 42);
  CHECK(f->get_uint_or("v.u16", 42) == 60000);
  CHECK(f->get_float_or("missing", 2.5) == 2.5);
  CHECK(f->get_string_or("missing", "dflt") == "dflt");
  CHECK(f->get_bool_or("missing", true) == true);
  CHECK(f->get_bool_or("v.bool_false", true) == false);
  EXPECT_GGUF_ERROR("uint_or wrong type", f->get_uint_or("v.string", 1), "'v.string'");
  EXPECT_GGUF_ERROR("float_or wrong type", f->get_float_or("v.i32", 1.0), "'v.i32'");
  EXPECT_GGUF_ERROR("string_or wrong type", f->get_string_or("v.f64", "x"), "'v.f64'");
  EXPECT_GGUF_ERROR("bool_or wrong type", f->get_bool_or("v.u8", false), "'v.u8'");
}

struct TypeCase {
  uint32_t id;
  TensorType type;
  std::vector<uint64_t> ne;
  uint64_t nbytes;
};

void test_tensors_of_every_type(uint32_t alignment) {
  const std::vector<TypeCase> cases = {
      {0, TensorType::F32, {3, 5}, 3 * 5 * 4},          {1, TensorType::F16, {7}, 7 * 2},
      {30, TensorType::BF16, {4, 2, 3}, 4 * 2 * 3 * 2}, {2, TensorType::Q4_0, {64, 3}, 2 * 3 * 18},
      {8, TensorType::Q8_0, {32, 2, 2, 2}, 8 * 34},     {12, TensorType::Q4_K, {512, 2}, 4 * 144},
      {14, TensorType::Q6_K, {256, 3}, 3 * 210},
  };
  GgufBuilder g;
  if (alignment != 32) g.set_alignment(alignment);
  g.add_string("general.architecture", "llama");
  for (size_t i = 0; i < cases.size(); ++i) {
    g.add_tensor("t" + std::to_string(i), cases[i].id, cases[i].ne, pattern_bytes(cases[i].nbytes, uint8_t(i)));
  }
  const auto bytes = g.build();
  std::vector<uint8_t> storage;
  auto f = parse_copy(bytes, bytes.size(), storage);
  CHECK(f->alignment() == alignment);
  CHECK(f->data_offset() == g.layout.data_start);
  CHECK(f->data_offset() % alignment == 0);
  CHECK(f->tensors().size() == cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const GgufTensorInfo* t = f->find_tensor("t" + std::to_string(i));
    CHECK_MSG(t != nullptr, "tensor t" + std::to_string(i));
    if (t == nullptr) continue;
    CHECK(t == &f->tensors()[i]);
    CHECK(t->type == cases[i].type);
    CHECK(t->n_dims == cases[i].ne.size());
    int64_t expected_elements = 1;
    for (size_t d = 0; d < 4; ++d) {
      const int64_t ne = d < cases[i].ne.size() ? static_cast<int64_t>(cases[i].ne[d]) : 1;
      CHECK(t->ne[d] == ne);
      expected_elements *= ne;
    }
    CHECK(t->n_elements() == expected_elements);
    CHECK(t->nbytes == cases[i].nbytes);
    CHECK(t->offset % alignment == 0);
    CHECK(t->data == storage.data() + f->data_offset() + t->offset);
    const auto expected = pattern_bytes(cases[i].nbytes, uint8_t(i));
    CHECK(std::memcmp(t->data, expected.data(), expected.size()) == 0);
  }
  CHECK(f->find_tensor("t99") == nullptr);
}

void test_version_2_and_sample_model() {
  for (uint32_t version : {2u, 3u}) {
    const auto bytes = sample_model_file(version);
    auto f = GgufFile::from_buffer(bytes.data(), bytes.size());
    CHECK(f->version() == version);
    CHECK(f->get_string("general.architecture") == "llama");
    CHECK(f->get_uint("llama.block_count") == 2);
    CHECK(std::fabs(f->get_float("llama.attention.layer_norm_rms_epsilon") - 1e-5) < 1e-12);
    CHECK(f->get_string_array("tokenizer.ggml.tokens").at(3) == "hello");
    CHECK(f->get_bool("tokenizer.ggml.add_bos_token"));
    CHECK(f->tensors().size() == 3);
    CHECK(f->find_tensor("blk.0.attn_q.weight")->nbytes == 68);
  }
}

void test_unused_tail_and_no_tensors() {
  // A file without tensors may end right after its metadata (no padding to the data section).
  GgufBuilder g;
  g.add<uint32_t>("x", GgufValueType::UINT32, 1);
  auto bytes = g.build();
  auto f = GgufFile::from_buffer(bytes.data(), bytes.size());
  CHECK(f->tensors().empty());
  // Trailing bytes after the last tensor are allowed (some writers pad the end).
  auto model = sample_model_file();
  model.resize(model.size() + 100, 0);
  auto f2 = GgufFile::from_buffer(model.data(), model.size());
  CHECK(f2->tensors().size() == 3);
}

void test_open_from_disk() {
  char dir_template[] = "/tmp/sovren-gguf-test-XXXXXX";
  const char* dir = mkdtemp(dir_template);
  CHECK(dir != nullptr);
  if (dir == nullptr) return;
  const std::string path = std::string(dir) + "/model.gguf";
  const auto bytes = sample_model_file();
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  {
    auto f = GgufFile::open(path);
    CHECK(f->file_size() == bytes.size());
    const auto* t = f->find_tensor("output_norm.weight");
    CHECK(t != nullptr && std::memcmp(t->data, pattern_bytes(32, 3).data(), 32) == 0);
  }
  EXPECT_GGUF_ERROR("missing file", GgufFile::open(std::string(dir) + "/absent.gguf"), "absent.gguf", "No such file");
  EXPECT_GGUF_ERROR("directory", GgufFile::open(dir), "not a regular file");
  const std::string empty = std::string(dir) + "/empty.gguf";
  { std::ofstream out(empty, std::ios::binary); }
  EXPECT_GGUF_ERROR("empty file", GgufFile::open(empty), "empty");
  const std::string truncated = std::string(dir) + "/truncated.gguf";
  {
    std::ofstream out(truncated, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size() - 1));
  }
  EXPECT_GGUF_ERROR("truncated file names path", GgufFile::open(truncated), "truncated.gguf", "extends past end");
  std::remove(path.c_str());
  std::remove(empty.c_str());
  std::remove(truncated.c_str());
  rmdir(dir);
}

// Test-local half -> float (the engine's kernels live elsewhere; this only checks the fixture's bytes).
float half_to_float(uint16_t h) {
  const int exp = (h >> 10) & 31;
  const int mant = h & 1023;
  float v = exp == 0 ? std::ldexp(static_cast<float>(mant), -24) : std::ldexp(1.0f + mant / 1024.0f, exp - 15);
  return (h & 0x8000) ? -v : v;
}

// native/tests/data/gguf-writer-fixture.gguf is written by the TypeScript GgufWriter (libs/engine/src/gguf/
// gguf-fixture.spec.ts keeps it current), so this checks that the two sides agree on the format.
void test_typescript_writer_fixture() {
  const char* path = "native/tests/data/gguf-writer-fixture.gguf";
  std::unique_ptr<GgufFile> f;
  try {
    f = GgufFile::open(path);
  } catch (const sovren::GgufError& e) {
    check(false, std::string("cannot read the TypeScript writer fixture (run from the repo root): ") + e.what(),
          __LINE__);
    return;
  }
  CHECK(f->version() == 3);
  CHECK(f->alignment() == 64);
  CHECK(f->get_string("general.architecture") == "fixture");
  CHECK(f->get_uint("v.u8") == 250 && f->type_of("v.u8") == GgufValueType::UINT8);
  CHECK(f->get_int("v.i8") == -7 && f->type_of("v.i8") == GgufValueType::INT8);
  CHECK(f->get_uint("v.u16") == 65000);
  CHECK(f->get_int("v.i16") == -1234);
  CHECK(f->get_uint("v.u32") == 3000000000u);
  CHECK(f->get_int("v.i32") == -123456789);
  CHECK(f->get_float("v.f32") == 0.25);
  CHECK(f->get_bool("v.bool"));
  CHECK(f->get_uint("v.u64") == (uint64_t{1} << 40) + 3);
  CHECK(f->get_int("v.i64") == -(int64_t{1} << 40));
  CHECK(f->get_float("v.f64") == 1.0 / 3.0);
  const auto tokens = f->get_string_array("a.tokens");
  CHECK(tokens.size() == 4 && tokens[0] == "<unk>" && tokens[3] == "héllo");
  CHECK((f->get_i32_array("a.i32") == std::vector<int32_t>{1, -2, 3}));
  CHECK(f->tensors().size() == 13);
  for (const auto& t : f->tensors()) CHECK_MSG(t.offset % 64 == 0, t.name);

  const auto* f32 = f->find_tensor("f32");
  CHECK(f32 != nullptr && f32->type == TensorType::F32 && f32->nbytes == 32);
  if (f32 != nullptr) {
    for (int i = 0; i < 8; ++i) {
      float v;
      std::memcpy(&v, f32->data + 4 * i, 4);
      const double expected = std::sin(1 + i * 0.731) * (1 + (i % 7)) * 0.125;
      CHECK_MSG(std::fabs(v - expected) < 1e-6, "f32[" + std::to_string(i) + "]");
    }
  }
  const struct {
    const char* name;
    TensorType type;
    int64_t cols;
    uint64_t nbytes;
  } quantised[] = {{"q.f16", TensorType::F16, 16, 64},     {"q.bf16", TensorType::BF16, 16, 64},
                   {"q.q8_0", TensorType::Q8_0, 64, 136},  {"q.q4_0", TensorType::Q4_0, 64, 72},
                   {"q.q4_k", TensorType::Q4_K, 256, 288}, {"q.q6_k", TensorType::Q6_K, 256, 420}};
  for (const auto& q : quantised) {
    const auto* t = f->find_tensor(q.name);
    const auto* expected = f->find_tensor(std::string(q.name) + ".expected");
    CHECK_MSG(t != nullptr && expected != nullptr, q.name);
    if (t == nullptr || expected == nullptr) continue;
    CHECK_MSG(t->type == q.type && t->ne[0] == q.cols && t->ne[1] == 2 && t->n_dims == 2 && t->nbytes == q.nbytes,
              q.name);
    CHECK_MSG(expected->type == TensorType::F32 && expected->nbytes == static_cast<uint64_t>(q.cols) * 2 * 4, q.name);
  }
  // The simple encodings decoded here must equal the TypeScript reference dequantisation exactly.
  int mismatches = 0;
  auto expected_at = [&](const char* name, int i) {
    float v;
    std::memcpy(&v, f->find_tensor(name)->data + 4 * i, 4);
    return v;
  };
  const auto* f16 = f->find_tensor("q.f16");
  const auto* bf16 = f->find_tensor("q.bf16");
  const auto* q8 = f->find_tensor("q.q8_0");
  if (f16 != nullptr && bf16 != nullptr && q8 != nullptr && f->find_tensor("q.f16.expected") != nullptr &&
      f->find_tensor("q.bf16.expected") != nullptr && f->find_tensor("q.q8_0.expected") != nullptr) {
    for (int i = 0; i < 32; ++i) {
      uint16_t h, b;
      std::memcpy(&h, f16->data + 2 * i, 2);
      std::memcpy(&b, bf16->data + 2 * i, 2);
      const uint32_t bits = uint32_t{b} << 16;
      float bf;
      std::memcpy(&bf, &bits, 4);
      mismatches += half_to_float(h) != expected_at("q.f16.expected", i);
      mismatches += bf != expected_at("q.bf16.expected", i);
    }
    for (int i = 0; i < 128; ++i) {
      const uint8_t* block = q8->data + (i / 32) * 34;
      uint16_t d;
      std::memcpy(&d, block, 2);
      mismatches += half_to_float(d) * static_cast<int8_t>(block[2 + i % 32]) != expected_at("q.q8_0.expected", i);
    }
  }
  CHECK(mismatches == 0);
}

int write_corpus(const std::string& dir) {
  auto write = [&](const std::string& name, const std::vector<uint8_t>& bytes) {
    std::ofstream out(dir + "/" + name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::printf("cannot write %s/%s\n", dir.c_str(), name.c_str());
      return false;
    }
    return true;
  };
  GgufBuilder all_types;
  all_types.set_alignment(16);
  all_types.add<uint8_t>("a", GgufValueType::BOOL, 1);
  all_types.add_tensor("f32", 0, {4}, pattern_bytes(16, 1));
  all_types.add_tensor("f16", 1, {2, 2}, pattern_bytes(8, 2));
  all_types.add_tensor("bf16", 30, {2}, pattern_bytes(4, 3));
  all_types.add_tensor("q4_0", 2, {32}, pattern_bytes(18, 4));
  all_types.add_tensor("q8_0", 8, {32}, pattern_bytes(34, 5));
  all_types.add_tensor("q4_k", 12, {256}, pattern_bytes(144, 6));
  all_types.add_tensor("q6_k", 14, {256}, pattern_bytes(210, 7));
  const bool ok = write("values.gguf", every_value_type_file()) && write("model-v3.gguf", sample_model_file(3)) &&
                  write("model-v2.gguf", sample_model_file(2)) && write("tensors.gguf", all_types.build());
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--write-corpus") return write_corpus(argv[2]);
  try {
    test_every_value_type();
    test_getter_conversions_and_refusals();
    for (uint32_t alignment : {32u, 1u, 8u, 64u, 4096u}) test_tensors_of_every_type(alignment);
    test_version_2_and_sample_model();
    test_unused_tail_and_no_tensors();
    test_open_from_disk();
    test_typescript_writer_fixture();
  } catch (const std::exception& e) {
    check(false, std::string("unexpected exception: ") + e.what(), __LINE__);
  }
  return summary("test-gguf");
}
