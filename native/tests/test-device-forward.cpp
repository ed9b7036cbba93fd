// The device forward pass (model/device-forward.h) on the host emulation of the CUDA plugin ABI, against the CPU
// backend on tiny random models (every weight type; llama and Qwen2 with QKV bias and NeoX rope): logits at every
// position of a prompt and of decode steps, batches equal lone runs, the paged KV pool's blocks grow, are freed and
// reused, fork / copy_prefix_from copy them, and out-of-memory (KV pool or memory cap) is an error that changes
// nothing. Every line the device path runs here is the one it runs on a GPU, kernels aside; the host emulation makes
// the device logits bit-identical to the CPU's. With SOVREN_TEST_DEVICE=cuda (tools/gpu-check.sh) the same suites
// run on GPU 0 through libsovren-cuda.so, within the tolerances (1e-3 float types, 1e-2 quantised), the
// memory-cap suite aside.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "cpu/fp16.h"
#include "model/batch-step.h"
#include "model/llama-model.h"
#include "model/sequence.h"
#include "test-gguf-builder.h"
#include "test-random-blocks.h"

#include "test-check.h"

using namespace sovren;

namespace {

constexpr int kVocab = 96;
constexpr int kDim = 256;  // Q4_K rows are whole 256-value blocks
constexpr int kFf = 512;
constexpr int kHeads = 4;
constexpr int kKvHeads = 2;
constexpr int kLayers = 2;
constexpr int kContext = 256;
constexpr int kBlock = DeviceForward::kBlockRows;

void put_f16(uint8_t* p, float v) { put_u16(p, fp32_to_fp16(v)); }

float absmax(const float* x, int n) {
  float m = 0.0f;
  for (int i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

// Values (about N(0, sigma)) in the given type. Q8_0 and Q4_K are quantised plainly (per-block absmax / min-max);
// the test compares two backends on the same bytes, so the quantiser need not be llama.cpp's.
std::vector<uint8_t> encode(const std::vector<float>& v, TensorType type) {
  std::vector<uint8_t> out;
  switch (type) {
    case TensorType::F32:
      out.resize(v.size() * 4);
      std::memcpy(out.data(), v.data(), out.size());
      break;
    case TensorType::F16:
      out.resize(v.size() * 2);
      for (size_t i = 0; i < v.size(); ++i) put_f16(out.data() + 2 * i, v[i]);
      break;
    case TensorType::BF16:
      out.resize(v.size() * 2);
      for (size_t i = 0; i < v.size(); ++i) put_u16(out.data() + 2 * i, fp32_to_bf16(v[i]));
      break;
    case TensorType::Q4_0:
      out.resize(v.size() / 32 * 18);
      for (size_t b = 0; b < v.size() / 32; ++b) {  // value (q - 8) * d, q in 0..15
        const float* x = v.data() + 32 * b;
        const float d = absmax(x, 32) / 7.0f;
        uint8_t* blk = out.data() + 18 * b;
        put_f16(blk, d);
        for (int j = 0; j < 16; ++j) {
          const auto q = [&](float x_) { return std::clamp(static_cast<int>(std::lround(x_ / d)) + 8, 0, 15); };
          blk[2 + j] = static_cast<uint8_t>(d == 0.0f ? 0x88 : q(x[j]) | (q(x[j + 16]) << 4));
        }
      }
      break;
    case TensorType::Q6_K:
      out.resize(v.size() / 256 * 210);
      for (size_t b = 0; b < v.size() / 256; ++b) {  // every sub-block scale 1: value d * (q - 32), q in 0..63
        const float* x = v.data() + 256 * b;
        const float d = absmax(x, 256) / 31.0f;
        uint8_t* blk = out.data() + 210 * b;
        for (int j = 0; j < 16; ++j) blk[192 + j] = 1;
        put_f16(blk + 208, d);
        for (int i = 0; i < 256; ++i) {  // the inverse of block::q6_k_quant's layout
          const int q = d == 0.0f ? 32 : std::clamp(static_cast<int>(std::lround(x[i] / d)) + 32, 0, 63);
          const int h = i >> 7, k = (i >> 5) & 3, l = i & 31;
          uint8_t& lo = blk[64 * h + l + 32 * (k & 1)];
          lo = static_cast<uint8_t>(k < 2 ? (lo & 0xF0) | (q & 0xF) : (lo & 0x0F) | ((q & 0xF) << 4));
          uint8_t& hi = blk[128 + 32 * h + l];
          hi = static_cast<uint8_t>((hi & ~(3 << (2 * k))) | ((q >> 4) << (2 * k)));
        }
      }
      break;
    case TensorType::Q8_0:
      out.resize(v.size() / 32 * 34);
      for (size_t b = 0; b < v.size() / 32; ++b) {
        const float* x = v.data() + 32 * b;
        const float d = absmax(x, 32) / 127.0f;
        uint8_t* blk = out.data() + 34 * b;
        put_f16(blk, d);
        for (int i = 0; i < 32; ++i) {
          blk[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(d == 0.0f ? 0 : std::lround(x[i] / d)));
        }
      }
      break;
    case TensorType::Q4_K:
      out.resize(v.size() / 256 * 144);
      for (size_t b = 0; b < v.size() / 256; ++b) {
        // One scale and min for all 8 sub-blocks (sc = m = 1): value = d * q - dmin, q in 0..15.
        const float* x = v.data() + 256 * b;
        float lo = x[0], hi = x[0];
        for (int i = 0; i < 256; ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
        const float d = (hi - lo) / 15.0f, dmin = -lo;
        uint8_t* blk = out.data() + 144 * b;
        put_f16(blk, d);
        put_f16(blk + 2, dmin);
        for (int j = 0; j < 4; ++j) blk[4 + j] = 1, blk[8 + j] = 1;
        for (int j = 0; j < 4; ++j) blk[12 + j] = 0x11;
        for (int i = 0; i < 256; ++i) {
          const int q = std::clamp(static_cast<int>(std::lround((x[i] - lo) / d)), 0, 15);
          const int s = i / 32, l = i % 32;
          uint8_t& byte = blk[16 + 32 * (s / 2) + l];
          byte = static_cast<uint8_t>(s % 2 == 0 ? (byte & 0xF0) | q : (byte & 0x0F) | (q << 4));
        }
      }
      break;
    default:
      throw EngineError("test encoder has no " + std::string(tensor_type_name(type)));
  }
  return out;
}

// SOVREN_TEST_DEVICE=cuda: the "device" is the GPU, not the host emulation.
const bool g_on_gpu = [] {
  const char* v = std::getenv("SOVREN_TEST_DEVICE");
  return v != nullptr && std::string(v) == "cuda";
}();

struct Variant {
  TensorType type;
  bool qwen2;         // QKV bias and NeoX rope
  bool tied_output;   // no output.weight: logits through token_embd
  bool rope_factors;  // Llama 3.1's rope_freqs.weight
  double tolerance;   // relative L2 of logits against the CPU backend
};

// The GGUF bytes of a tiny random model; the models read them in place.
std::vector<uint8_t> build_model(const Variant& var, uint32_t seed, uint32_t context = kContext) {
  gguf_test::GgufBuilder g;
  gguf_test::add_tiny_llama_header(g, {var.qwen2 ? "qwen2" : "llama", context, kDim, kLayers, kFf, kHeads, kKvHeads},
                                   kVocab, "device-forward-test");

  std::mt19937 rng(seed);
  auto values = [&](size_t n, float sigma) {
    std::normal_distribution<float> dist(0.0f, sigma);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
  };
  auto matrix = [&](const std::string& name, int cols, int rows) {
    g.add_tensor(
        name, static_cast<uint32_t>(var.type), {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)},
        encode(values(static_cast<size_t>(cols) * rows, 1.0f / std::sqrt(static_cast<float>(cols))), var.type));
  };
  auto vec = [&](const std::string& name, int n, float mean, float spread) {
    std::uniform_real_distribution<float> dist(mean - spread, mean + spread);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = dist(rng);
    g.add_tensor(name, 0, {static_cast<uint64_t>(n)}, encode(v, TensorType::F32));
  };
  const int head_dim = kDim / kHeads, kv_dim = head_dim * kKvHeads;
  matrix("token_embd.weight", kDim, kVocab);
  if (!var.tied_output) matrix("output.weight", kDim, kVocab);
  vec("output_norm.weight", kDim, 1.0f, 0.2f);
  if (var.rope_factors) vec("rope_freqs.weight", head_dim / 2, 2.0f, 1.0f);
  for (int l = 0; l < kLayers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    vec(b + "attn_norm.weight", kDim, 1.0f, 0.2f);
    matrix(b + "attn_q.weight", kDim, kDim);
    matrix(b + "attn_k.weight", kDim, kv_dim);
    matrix(b + "attn_v.weight", kDim, kv_dim);
    if (var.qwen2) {
      vec(b + "attn_q.bias", kDim, 0.0f, 0.5f);
      vec(b + "attn_k.bias", kv_dim, 0.0f, 0.5f);
      vec(b + "attn_v.bias", kv_dim, 0.0f, 0.5f);
    }
    matrix(b + "attn_output.weight", kDim, kDim);
    vec(b + "ffn_norm.weight", kDim, 1.0f, 0.2f);
    matrix(b + "ffn_gate.weight", kDim, kFf);
    matrix(b + "ffn_up.weight", kDim, kFf);
    matrix(b + "ffn_down.weight", kFf, kDim);
  }
  return g.build();
}

// The same file loaded on the CPU backend and on the host device (a KV pool of kv_tokens; 0: the default).
struct ModelPair {
  std::vector<uint8_t> bytes;
  std::unique_ptr<LlamaModel> cpu, dev;
};
std::unique_ptr<LlamaModel> load(const std::vector<uint8_t>& bytes, bool device, int64_t kv_tokens = 0,
                                 uint64_t memory_cap = 0);
ModelPair load_pair(const Variant& var, uint32_t seed, int64_t kv_tokens = 0, uint32_t context = kContext) {
  ModelPair m;
  m.bytes = build_model(var, seed, context);
  m.cpu = load(m.bytes, false);
  m.dev = load(m.bytes, true, kv_tokens);
  return m;
}

std::unique_ptr<LlamaModel> load(const std::vector<uint8_t>& bytes, bool device, int64_t kv_tokens,
                                 uint64_t memory_cap) {
  ModelLoadOptions options;
  options.n_threads = 2;
  options.weights = WeightStorage::Mmap;  // Copy would madvise(DONTNEED) the heap buffer the file lives in
  options.backend = device && g_on_gpu ? "cuda" : "cpu";
  options.host_device = device && !g_on_gpu;
  options.kv_cache_tokens = kv_tokens;
  options.host_device_memory_cap = memory_cap;
  return std::make_unique<LlamaModel>(GgufFile::from_buffer(bytes.data(), bytes.size()), options);
}

// Worst relative L2 over rows of n_vocab logits.
double worst_rows(std::span<const float> got, std::span<const float> want) {
  if (got.size() != want.size()) return INFINITY;
  double worst = 0.0;
  for (size_t at = 0; at < want.size(); at += kVocab) {
    worst = std::max(worst, relative_l2(got.subspan(at, kVocab), want.subspan(at, kVocab)));
  }
  return worst;
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::vector<int32_t> prompt_of(int length, int salt) { return gguf_test::tiny_prompt(length, salt, kVocab); }

// Checks got against want within tol and records the worst error seen for the variant's report line.
struct Tracker {
  double worst = 0.0;
  void expect(std::span<const float> got, std::span<const float> want, double tol, const std::string& what) {
    const double err = worst_rows(got, want);
    worst = std::max(worst, err);
    check(err <= tol, what + ": relative L2 " + fmt(err) + " > " + fmt(tol));
  }
};

// f must throw an EngineError whose message contains needle.
template <typename F>
void expect_error(F&& f, const std::string& needle, const std::string& what) {
  try {
    f();
    check(false, what + ": no error");
  } catch (const EngineError& e) {
    check(std::string(e.what()).find(needle) != std::string::npos, what + ": " + e.what());
  }
}

std::vector<float> copy_of(std::span<const float> s) { return {s.begin(), s.end()}; }

const Variant kVariants[] = {
    {TensorType::F32, false, false, true, 1e-4},   {TensorType::F16, false, true, false, 1e-3},
    {TensorType::Q8_0, true, false, false, 1e-3},  {TensorType::Q4_K, false, false, false, 1e-3},
    {TensorType::Q4_K, true, true, false, 1e-3},   {TensorType::BF16, true, false, false, 1e-3},
    {TensorType::Q4_0, false, false, false, 1e-3}, {TensorType::Q6_K, false, false, true, 1e-3},
};

bool float_type(const Variant& v) {
  return v.type == TensorType::F32 || v.type == TensorType::F16 || v.type == TensorType::BF16;
}

// Bound on the relative L2 of device logits against the CPU's: the GPU's kernels round differently.
double tolerance(const Variant& v) { return g_on_gpu ? (float_type(v) ? 1e-3 : 1e-2) : v.tolerance; }

// Bound between two device runs of the same rows (batched against alone): exact on the host emulation.
double same_device(const Variant& v, double host_bound) { return g_on_gpu ? tolerance(v) : host_bound; }

// Greedy tokens must match the CPU's where the issue asks it (float types on a GPU; always on the host emulation).
bool exact_tokens(const Variant& v) { return !g_on_gpu || v.type == TensorType::F32 || v.type == TensorType::F16; }

std::string variant_name(const Variant& v) {
  return std::string(tensor_type_name(v.type)) + (v.qwen2 ? " qwen2" : " llama") + (v.tied_output ? " tied" : "") +
         (v.rope_factors ? " rope-factors" : "");
}

// A 45-token prompt (all logits: every position, three blocks) then greedy decode steps across the 48-row block
// boundary, then a 9-token chunk continuing the cache (prefill over cached rows).
void test_logits_match_cpu() {
  for (const Variant& var : kVariants) {
    const ModelPair m = load_pair(var, 20 + static_cast<uint32_t>(var.type));
    LlamaModel *cpu = m.cpu.get(), *dev = m.dev.get();
    const std::string name = variant_name(var);
    check(dev->backend_name() == (g_on_gpu ? "cuda" : "host-device"), name + ": the model reports its device");
    check(dev->device_bytes() >= dev->weight_bytes(), name + ": device bytes cover the weights");
    Sequence sc(*cpu), sd(*dev);
    Tracker t;
    const auto prompt = prompt_of(45, 1);
    const auto want = copy_of(cpu->forward(sc, prompt.data(), 45, true));
    t.expect(dev->forward(sd, prompt.data(), 45, true), want, tolerance(var), name + ": prompt logits");
    int32_t id = argmax({want.data() + 44 * kVocab, static_cast<size_t>(kVocab)});
    for (int step = 0; step < 6; ++step) {
      const auto w = copy_of(cpu->forward(sc, &id, 1, false));
      const auto g = copy_of(dev->forward(sd, &id, 1, false));
      t.expect(g, w, tolerance(var), name + ": decode step " + std::to_string(step));
      check(!exact_tokens(var) || argmax(g) == argmax(w),
            name + ": greedy token of decode step " + std::to_string(step));
      id = argmax(w);
    }
    const auto chunk = prompt_of(9, 2);
    const auto w = copy_of(cpu->forward(sc, chunk.data(), 9, true));
    t.expect(dev->forward(sd, chunk.data(), 9, true), w, tolerance(var), name + ": chunk over cached rows");
    check(sd.position() == 60 && sd.cache_bytes() == 4 * dev->device()->block_bytes(),
          name + ": 60 rows hold 4 blocks of " + std::to_string(kBlock));
    std::printf("%s: max relative L2 vs CPU %s\n", name.c_str(), fmt(t.worst).c_str());
  }
}

// Three sequences of different lengths in one forward_batch (prefill attention), then decode steps of all three
// in one batch (split-K decode attention) and through run_batch_step: equal to each sequence run alone.
void test_batch_equals_alone() {
  for (const Variant& var : {kVariants[0], kVariants[2]}) {
    const ModelPair m = load_pair(var, 7);
    LlamaModel *cpu = m.cpu.get(), *dev = m.dev.get();
    const std::string name = variant_name(var) + " batch";
    const int lengths[3] = {5, 17, 40};
    std::vector<std::vector<int32_t>> prompts;
    std::vector<std::unique_ptr<Sequence>> alone, batched;
    std::vector<std::vector<float>> want;
    for (int i = 0; i < 3; ++i) {
      prompts.push_back(prompt_of(lengths[i], i + 3));
      alone.push_back(std::make_unique<Sequence>(*dev));
      batched.push_back(std::make_unique<Sequence>(*dev));
      want.push_back(copy_of(dev->forward(*alone[i], prompts[i].data(), lengths[i], false)));
      Sequence reference(*cpu);
      const auto on_cpu = copy_of(cpu->forward(reference, prompts[i].data(), lengths[i], false));
      check(worst_rows(want.back(), on_cpu) <= tolerance(var),
            name + ": lone sequence " + std::to_string(i) + " vs CPU");
    }
    std::vector<LlamaModel::BatchItem> items;
    for (int i = 0; i < 3; ++i) items.push_back({batched[i].get(), prompts[i].data(), lengths[i], true});
    dev->forward_batch(items);
    for (int i = 0; i < 3; ++i) {
      check(worst_rows(batched[i]->logits(), want[i]) <= same_device(var, 1e-6),
            name + ": prompt " + std::to_string(i) + " batched equals alone");
    }
    for (int step = 0; step < 3; ++step) {
      std::vector<int32_t> ids(3);
      for (int i = 0; i < 3; ++i) {
        ids[i] = argmax(want[i]);
        want[i] = copy_of(dev->forward(*alone[i], &ids[i], 1, false));
        items[i] = {batched[i].get(), &ids[i], 1, true};
      }
      dev->forward_batch(items);
      for (int i = 0; i < 3; ++i) {
        check(worst_rows(batched[i]->logits(), want[i]) <= same_device(var, 1e-5),
              name + ": decode step " + std::to_string(step) + " of sequence " + std::to_string(i) + " equals alone");
      }
    }
    // run_batch_step: greedy tokens of the device equal the CPU's for the same prompts.
    std::vector<std::unique_ptr<Sequence>> on_cpu, on_dev;
    std::vector<StepEntry> cpu_entries, dev_entries;
    SamplingParams greedy;
    greedy.temperature = 0.0f;
    for (int i = 0; i < 3; ++i) {
      on_cpu.push_back(std::make_unique<Sequence>(*cpu));
      on_dev.push_back(std::make_unique<Sequence>(*dev));
      on_cpu.back()->set_sampling(greedy);
      on_dev.back()->set_sampling(greedy);
      cpu_entries.push_back({on_cpu.back().get(), prompts[i], true});
      dev_entries.push_back({on_dev.back().get(), prompts[i], true});
    }
    for (int step = 0; step < 4; ++step) {
      const auto rc = run_batch_step(*cpu, cpu_entries);
      const auto rd = run_batch_step(*dev, dev_entries);
      for (int i = 0; i < 3; ++i) {
        check(!exact_tokens(var) || rc[i].token == rd[i].token,
              name + ": run_batch_step token of step " + std::to_string(step));
        cpu_entries[i].tokens = {rc[i].token};
        dev_entries[i].tokens = {rc[i].token};
      }
    }
  }
}

// A pool of 5 blocks: blocks are taken as sequences grow, given back on reset and destruction, and reused with
// correct logits (stale rows from the previous owner are never read). A pass that does not fit fails, naming the
// KV cache, and changes no sequence.
void test_blocks_freed_reused_and_full() {
  const Variant var = kVariants[0];
  const ModelPair m = load_pair(var, 11, 5 * kBlock);
  LlamaModel *cpu = m.cpu.get(), *dev = m.dev.get();
  DeviceForward& pool = *dev->device();
  check(pool.total_blocks() == 5 && pool.free_blocks() == 5, "a pool of 80 tokens has 5 free blocks");
  const auto p40 = prompt_of(40, 4), p20 = prompt_of(20, 5), p33 = prompt_of(33, 6);
  auto a = std::make_unique<Sequence>(*dev);
  dev->forward(*a, p40.data(), 40, false);
  check(pool.free_blocks() == 2, "40 rows take 3 blocks");
  {
    Sequence b(*dev);
    dev->forward(b, p20.data(), 16, false);
    check(pool.free_blocks() == 1 && b.cache_bytes() == pool.block_bytes(), "16 rows take exactly one block");
    dev->forward(b, p20.data() + 16, 1, false);
    check(pool.free_blocks() == 0, "row 17 takes the next block");
    // Full: a pass needing a block fails with the reason and changes nothing.
    Sequence c(*dev);
    expect_error([&] { dev->forward(c, p20.data(), 3, false); }, "KV cache is full", "a pass beyond the pool");
    check(c.position() == 0 && c.cache_bytes() == 0 && pool.free_blocks() == 0, "the failed pass changed nothing");
    // In a batch: a's decode row fits its block, c's prompt does not; neither sequence moves.
    const int32_t id = 5;
    const LlamaModel::BatchItem items[2] = {{a.get(), &id, 1, true}, {&c, p20.data(), 3, true}};
    expect_error([&] { dev->forward_batch(items); }, "KV cache is full", "a batch beyond the pool");
    check(a->position() == 40 && c.position() == 0, "the failed batch moved no sequence");
  }
  check(pool.free_blocks() == 2, "destroying a sequence gives its blocks back");
  a->reset();
  check(pool.free_blocks() == 5 && a->cache_bytes() == 0, "reset gives every block back");
  // Reused blocks hold the previous owners' rows: the new sequences' logits must not see them.
  Sequence d(*dev), e(*dev), rd(*cpu), re(*cpu);
  const auto gd = copy_of(dev->forward(d, p33.data(), 33, true));
  const auto ge = copy_of(dev->forward(e, p20.data(), 20, true));
  check(worst_rows(gd, cpu->forward(rd, p33.data(), 33, true)) <= tolerance(var), "logits in reused blocks (33 rows)");
  check(worst_rows(ge, cpu->forward(re, p20.data(), 20, true)) <= tolerance(var), "logits in reused blocks (20 rows)");
  check(pool.free_blocks() == 0, "3 + 2 blocks in use");
  a.reset();
}

// fork, copy_prefix_from another sequence and from itself: the device copies blocks; logits equal the CPU's.
void test_fork_and_copy_prefix() {
  const Variant var = kVariants[3];
  const ModelPair m = load_pair(var, 13, 20 * kBlock);
  LlamaModel *cpu = m.cpu.get(), *dev = m.dev.get();
  DeviceForward& pool = *dev->device();
  const auto prompt = prompt_of(30, 7);
  Sequence a(*dev), ra(*cpu);
  dev->forward(a, prompt.data(), 30, false);
  cpu->forward(ra, prompt.data(), 30, false);
  auto b = a.fork();
  auto rb = ra.fork();
  check(pool.free_blocks() == 16 && b->position() == 30, "fork copies the 2 blocks of 30 rows");
  const int32_t x = 9, y = 17;
  check(worst_rows(dev->forward(a, &x, 1, false), cpu->forward(ra, &x, 1, false)) <= tolerance(var),
        "the original continues after a fork");
  check(worst_rows(dev->forward(*b, &y, 1, false), cpu->forward(*rb, &y, 1, false)) <= tolerance(var),
        "the fork continues on its own rows");

  Sequence c(*dev), rc(*cpu);
  c.copy_prefix_from(a, 20);
  rc.copy_prefix_from(ra, 20);
  check(c.position() == 20 && c.cache_bytes() == 2 * pool.block_bytes(), "a 20-row prefix holds 2 blocks");
  const auto tail = prompt_of(12, 8);
  check(worst_rows(dev->forward(c, tail.data(), 12, true), cpu->forward(rc, tail.data(), 12, true)) <= tolerance(var),
        "a copied prefix continues like the CPU's");

  a.copy_prefix_from(a, 10);
  ra.copy_prefix_from(ra, 10);
  check(a.cache_bytes() == pool.block_bytes(), "keeping 10 of its own rows gives the later blocks back");
  check(worst_rows(dev->forward(a, tail.data(), 12, true), cpu->forward(ra, tail.data(), 12, true)) <= tolerance(var),
        "a sequence truncated to its own prefix continues like the CPU's");

  // A copy that does not fit fails and leaves the target as it was.
  auto small = load(m.bytes, true, 3 * kBlock);
  Sequence s1(*small), s2(*small);
  small->forward(s1, prompt.data(), 30, false);
  small->forward(s2, prompt.data(), 5, false);
  expect_error([&] { s2.copy_prefix_from(s1, 30); }, "KV cache is full", "a copy beyond the pool");
  check(s2.position() == 5 && s2.cache_bytes() == small->device()->block_bytes(), "the failed copy changed nothing");
}

// The memory cap of the host device: weights that do not fit name the tensor, a KV pool that does not fit names the
// cache, scratch that does not fit fails the pass and changes nothing; unload frees everything.
void test_out_of_memory() {
  if (g_on_gpu) {
    std::printf("SKIP out of memory: the memory cap is the host emulation's\n");
    return;
  }
  const Variant var = kVariants[1];
  const auto bytes = build_model(var, 17);
  auto expect_load_error = [&](uint64_t cap, const std::string& needle, const std::string& what) {
    expect_error([&] { load(bytes, true, 4 * kBlock, cap); }, needle, what);
  };
  expect_load_error(64 * 1024, "weight tensor '", "weights beyond the cap");
  auto probe = load(bytes, true, 4 * kBlock);
  const uint64_t loaded = probe->device_bytes();
  expect_load_error(loaded - 1024, "KV cache", "a KV pool beyond the cap");
  Sequence s(*probe);
  const int32_t id = 4;
  probe->forward(s, &id, 1, false);
  const uint64_t after_decode = probe->device_bytes();
  check(after_decode > loaded, "the first pass allocates scratch");
  s.reset();

  auto capped = load(bytes, true, 4 * kBlock, after_decode + 512);
  auto cpu = load(bytes, false);
  Sequence c(*capped), r(*cpu);
  const auto prompt = prompt_of(40, 9);
  expect_error([&] { capped->forward(c, prompt.data(), 40, true); }, "out of device memory",
               "a pass whose scratch does not fit");
  check(c.position() == 0 && c.cache_bytes() == 0, "the failed pass changed nothing");
  const auto got = copy_of(capped->forward(c, prompt.data(), 12, false));
  check(worst_rows(got, cpu->forward(r, prompt.data(), 12, false)) <= tolerance(var),
        "a pass that fits runs after the failure");
}

// More rows than a micro-batch holds (LlamaModel::kMaxBatch): a 600-token prompt runs as two passes, and a batch of
// 300 + 400 tokens splits its second item between two passes; logits still equal the CPU's at every position.
void test_micro_batch_splits() {
  const Variant var = kVariants[1];
  const ModelPair m = load_pair(var, 23, 2048, 1024);
  LlamaModel *cpu = m.cpu.get(), *dev = m.dev.get();
  const auto prompt = prompt_of(600, 3);
  Sequence a(*dev), ra(*cpu);
  const auto want = copy_of(cpu->forward(ra, prompt.data(), 600, true));
  check(worst_rows(dev->forward(a, prompt.data(), 600, true), want) <= tolerance(var),
        "a 600-token prompt in two micro-batches");
  const auto p300 = prompt_of(300, 4), p400 = prompt_of(400, 5);
  Sequence b(*dev), c(*dev), rb(*cpu), rc(*cpu);
  const LlamaModel::BatchItem items[2] = {{&b, p300.data(), 300, true}, {&c, p400.data(), 400, true}};
  dev->forward_batch(items);
  check(worst_rows(b.logits(), cpu->forward(rb, p300.data(), 300, false)) <= tolerance(var), "batch item of 300 rows");
  check(worst_rows(c.logits(), cpu->forward(rc, p400.data(), 400, false)) <= tolerance(var),
        "batch item of 400 rows split between two micro-batches");
  check(b.position() == 300 && c.position() == 400, "both sequences advanced by their whole inputs");
}

// Threads sharing one device model, as the addon's workers do: each runs its own sequences (prompt, decode steps,
// fork, reset) while the others do too; every logit equals a single-threaded run, and every block comes back.
void test_threads_share_the_pool() {
  const Variant var = kVariants[3];
  const ModelPair m = load_pair(var, 29, 64 * kBlock);
  LlamaModel *cpu = m.cpu.get(), *dev = m.dev.get();
  constexpr int kThreads = 4;
  std::vector<std::vector<float>> want(kThreads), got(kThreads);
  auto script = [&](LlamaModel& model, int t, std::vector<float>& out) {
    const auto prompt = prompt_of(20 + 7 * t, t);
    for (int round = 0; round < 3; ++round) {
      Sequence seq(model);
      model.forward(seq, prompt.data(), static_cast<int>(prompt.size()), false);
      auto fork = seq.fork();
      const int32_t id = 5 + t;
      const auto logits = model.forward(*fork, &id, 1, false);
      if (round == 2) out.assign(logits.begin(), logits.end());
      seq.reset();
    }
  };
  for (int t = 0; t < kThreads; ++t) script(*cpu, t, want[t]);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back([&, t] { script(*dev, t, got[t]); });
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    check(worst_rows(got[t], want[t]) <= tolerance(var), "thread " + std::to_string(t) + " logits equal the CPU's");
  }
  check(dev->device()->free_blocks() == dev->device()->total_blocks(), "every block is back in the pool");
}

// Weights go up through two page-locked staging buffers in chunks: uploads of odd sizes, several chunks each, one
// after the other, arrive intact.
void test_staged_upload() {
  auto dev = DeviceContext::open_host(1, 0);
  std::vector<uint8_t> a(12345), b(999);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(i * 31 + 7);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 17 + 3);
  DeviceBuffer da(*dev, a.size(), "a"), db(*dev, b.size(), "b");
  {
    StagedUpload stage(*dev, 1000);
    check(stage.staged(), "the host device gives staging memory");
    stage.upload(da.get(), a.data(), a.size(), "a");
    stage.upload(db.get(), b.data(), b.size(), "b");
  }
  std::vector<uint8_t> ra(a.size()), rb(b.size());
  dev->check(dev->api().download(dev->handle(), ra.data(), da.get(), ra.size()), "download a");
  dev->check(dev->api().download(dev->handle(), rb.data(), db.get(), rb.size()), "download b");
  check(ra == a && rb == b, "13 chunks of 1000 bytes over two buffers arrive intact");
}

// embed() downloads the final-norm hidden states of every row: same embeddings as the CPU.
void test_embed_matches_cpu() {
  const Variant var = kVariants[0];
  const ModelPair m = load_pair(var, 19);
  LlamaModel *cpu = m.cpu.get(), *dev = m.dev.get();
  const std::vector<std::vector<int32_t>> inputs = {prompt_of(7, 1), prompt_of(23, 2)};
  for (const Pooling pooling : {Pooling::Mean, Pooling::Last}) {
    const auto want = cpu->embed(inputs, pooling, true);
    const auto got = dev->embed(inputs, pooling, true);
    for (size_t i = 0; i < inputs.size(); ++i) {
      check(relative_l2(got[i], want[i]) <= tolerance(var), "embedding " + std::to_string(i) + " equals the CPU's");
    }
  }
  check(dev->device()->free_blocks() == dev->device()->total_blocks(), "embed's temporary sequences give blocks back");
}

}  // namespace

int main() {
  return run_suites({{"logits match the CPU", test_logits_match_cpu},
                     {"batch equals alone", test_batch_equals_alone},
                     {"blocks freed, reused and full", test_blocks_freed_reused_and_full},
                     {"fork and copy_prefix", test_fork_and_copy_prefix},
                     {"out of memory", test_out_of_memory},
                     {"micro-batch splits", test_micro_batch_splits},
                     {"staged upload", test_staged_upload},
                     {"threads share the pool", test_threads_share_the_pool},
                     {"embed", test_embed_matches_cpu}});
}
