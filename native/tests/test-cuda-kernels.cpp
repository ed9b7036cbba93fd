// The CUDA kernels (through libsovren-cuda.so's C ABI) against the CPU backend on random inputs: matmul of every
// weight type at 1, 3 and 37 tokens, get_rows, rms_norm, rope (normal / NeoX, with a QKV bias), silu_mul, add and
// split-K paged decode attention; the ops of the device forward pass (kv_store, causal prefill attention over the
// paged cache, add_bias, copy) against the host emulation of the ABI (backend/host-device-api.h) that the CPU-only
// tests run the forward pass on; and weight uploads through page-locked staging. Needs a GPU: without the plugin or a
// device it prints SKIP and passes.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda-plugin-loader.h"
#include "backend/host-device-api.h"
#include "core/error.h"
#include "cpu/fp16.h"
#include "model/device-forward.h"

#include "test-check.h"
#include "test-random-blocks.h"

using namespace sovren;

namespace {

std::shared_ptr<CudaPlugin> g_plugin;
sovren_cuda_backend* g_gpu = nullptr;

const sovren_cuda_api& api() { return g_plugin->api(); }

void ok(int rc, const char* what) {
  if (rc != 0) throw EngineError(std::string(what) + ": " + api().last_error(g_gpu));
}

// A device copy of a host vector, freed on scope exit.
template <typename T>
struct DeviceVec {
  void* ptr = nullptr;
  size_t bytes = 0;
  explicit DeviceVec(const std::vector<T>& host) : bytes(host.size() * sizeof(T)) {
    ok(api().alloc(g_gpu, std::max<size_t>(bytes, 1), &ptr), "alloc");
    if (bytes > 0) ok(api().upload(g_gpu, ptr, host.data(), bytes), "upload");
  }
  ~DeviceVec() { api().free(g_gpu, ptr); }
  T* get() const { return static_cast<T*>(ptr); }
  std::vector<T> read() const {
    std::vector<T> out(bytes / sizeof(T));
    ok(api().download(g_gpu, out.data(), ptr, bytes), "download");
    return out;
  }
};

void expect_close(const std::vector<float>& got, const std::vector<float>& want, double tol, const std::string& what) {
  const double err = relative_l2(got, want);
  char buf[64];
  std::snprintf(buf, sizeof buf, " (rel L2 %.3g, limit %.0e)", err, tol);
  check(err <= tol, what + buf);
}

const TensorType kTypes[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q4_0,
                             TensorType::Q8_0, TensorType::Q4_K, TensorType::Q6_K};

bool quantised(TensorType t) { return t != TensorType::F32 && t != TensorType::F16 && t != TensorType::BF16; }

void test_matmul() {
  std::mt19937 rng(2020);
  auto cpu = make_cpu_backend(2);
  const int64_t rows = 272, cols = 512;
  for (const TensorType type : kTypes) {
    const auto w = random_weights(type, rows, cols, rng);
    DeviceVec<uint8_t> dw(w);
    for (const int n_tok : {1, 3, 37}) {
      const auto x = random_activations(cols * n_tok, rng);
      std::vector<float> want(static_cast<size_t>(rows * n_tok));
      cpu->matmul(WeightView{type, rows, cols, w.data()}, x.data(), n_tok, want.data());
      DeviceVec<float> dx(x), dy(std::vector<float>(want.size(), NAN));
      ok(api().matmul(g_gpu, static_cast<uint32_t>(type), dw.get(), rows, cols, dx.get(), n_tok, dy.get()), "matmul");
      // 16-bit GEMM rounds activations to the weight type once (tensor cores): a looser bound than float matvec.
      const bool tensor_core = n_tok > 4 && (type == TensorType::F16 || type == TensorType::BF16);
      const double tol = quantised(type) ? 1e-2 : tensor_core ? 5e-3 : 1e-3;
      expect_close(dy.read(), want, tol,
                   "matmul " + std::string(tensor_type_name(type)) + " x " + std::to_string(n_tok) + " tokens");
    }
  }
}

void test_get_rows_and_elementwise() {
  std::mt19937 rng(2021);
  auto cpu = make_cpu_backend(1);
  const int64_t rows = 40, cols = 512;
  const std::vector<int32_t> ids = {3, 0, 39, 3, 17};
  for (const TensorType type : kTypes) {
    const auto w = random_weights(type, rows, cols, rng);
    std::vector<float> want(ids.size() * cols);
    cpu->get_rows(WeightView{type, rows, cols, w.data()}, ids.data(), static_cast<int>(ids.size()), want.data());
    DeviceVec<uint8_t> dw(w);
    DeviceVec<int32_t> did(ids);
    DeviceVec<float> out(std::vector<float>(want.size(), NAN));
    ok(api().get_rows(g_gpu, static_cast<uint32_t>(type), dw.get(), cols, did.get(), static_cast<int>(ids.size()),
                      out.get()),
       "get_rows");
    expect_close(out.read(), want, 0.0, "get_rows " + std::string(tensor_type_name(type)) + " is exact");
  }
  const int n_tok = 3, dim = 1000;
  const auto x = random_activations(n_tok * dim, rng), weight = random_activations(dim, rng);
  std::vector<float> want(x.size());
  cpu->rms_norm(x.data(), weight.data(), n_tok, dim, 1e-5f, want.data());
  DeviceVec<float> dx(x), dwt(weight), dout(std::vector<float>(x.size(), NAN));
  ok(api().rms_norm(g_gpu, dx.get(), dwt.get(), n_tok, dim, 1e-5f, dout.get()), "rms_norm");
  expect_close(dout.read(), want, 1e-6, "rms_norm fused with its weight");

  const auto up = random_activations(x.size(), rng);
  std::vector<float> gate = x;
  cpu->silu_mul(gate.data(), up.data(), gate.size());
  DeviceVec<float> dg(x), du(up);
  ok(api().silu_mul(g_gpu, dg.get(), du.get(), x.size()), "silu_mul");
  expect_close(dg.read(), gate, 1e-6, "silu_mul");
  std::vector<float> sum = x;
  cpu->add(sum.data(), up.data(), sum.size());
  DeviceVec<float> ds(x);
  ok(api().add(g_gpu, ds.get(), du.get(), x.size()), "add");
  expect_close(ds.read(), sum, 0.0, "add is exact");
}

void test_rope() {
  std::mt19937 rng(2022);
  auto cpu = make_cpu_backend(1);
  const int n_tok = 5, n_heads = 4, head_dim = 64;
  const std::vector<int32_t> pos = {0, 1, 7, 300, 4095};
  for (const bool neox : {false, true}) {
    for (const int n_rot : {64, 32}) {
      const auto x = random_activations(n_tok * n_heads * head_dim, rng);
      const auto bias = random_activations(n_heads * head_dim, rng);
      std::vector<float> want = x;
      cpu->add_bias(want.data(), bias.data(), n_tok, n_heads * head_dim);
      RopeParams p;
      p.n_rot = n_rot, p.freq_base = 1e6f, p.neox = neox;
      cpu->rope(want.data(), pos.data(), n_tok, n_heads, head_dim, p);
      DeviceVec<float> dx(x), db(bias);
      DeviceVec<int32_t> dp(pos);
      const sovren_cuda_rope gp = {n_rot, 1e6f, 1.0f, neox ? 1 : 0, nullptr};
      ok(api().rope(g_gpu, dx.get(), db.get(), dp.get(), n_tok, n_heads, head_dim, &gp), "rope");
      expect_close(dx.read(), want, 1e-5,
                   std::string("rope ") + (neox ? "neox" : "normal") + " n_rot " + std::to_string(n_rot) + " + bias");
    }
  }
}

void test_paged_attention() {
  std::mt19937 rng(2023);
  auto cpu = make_cpu_backend(2);
  const int n_head = 8, n_head_kv = 2, head_dim = 128, block_rows = 16;
  const std::vector<int32_t> n_kv = {300, 1000};
  const int max_blocks = (1000 + block_rows - 1) / block_rows, n_seq = static_cast<int>(n_kv.size());
  const size_t row_floats = static_cast<size_t>(n_head_kv) * head_dim;
  // Pool blocks handed out in a shuffled order, as a paged allocator would after some churn.
  std::vector<int32_t> order(static_cast<size_t>(max_blocks) * n_seq);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<float> k_pool(order.size() * block_rows * row_floats), v_pool(k_pool.size());
  const auto q = random_activations(static_cast<int64_t>(n_seq) * n_head * head_dim, rng);
  std::vector<float> want(q.size());
  const AttentionParams ap{n_head, n_head_kv, head_dim, 1.0f / std::sqrt(static_cast<float>(head_dim))};
  for (int s = 0; s < n_seq; ++s) {
    const auto k = random_activations(n_kv[s] * static_cast<int64_t>(row_floats), rng);
    const auto v = random_activations(n_kv[s] * static_cast<int64_t>(row_floats), rng);
    for (int r = 0; r < n_kv[s]; ++r) {
      const size_t blk = static_cast<size_t>(order[static_cast<size_t>(s) * max_blocks + r / block_rows]);
      const size_t at = (blk * block_rows + r % block_rows) * row_floats;
      std::copy_n(k.data() + r * row_floats, row_floats, k_pool.data() + at);
      std::copy_n(v.data() + r * row_floats, row_floats, v_pool.data() + at);
    }
    const int32_t last = n_kv[s] - 1;
    cpu->attention(q.data() + s * n_head * head_dim, k.data(), v.data(), n_kv[s], &last, 1, ap,
                   want.data() + s * n_head * head_dim);
  }
  DeviceVec<float> dq(q), dk(k_pool), dv(v_pool), dout(std::vector<float>(q.size(), NAN));
  DeviceVec<int32_t> dtable(order), dn(n_kv);
  const sovren_cuda_paged_kv kv = {dk.get(), dv.get(), dtable.get(), block_rows, max_blocks};
  ok(api().attention_decode(g_gpu, dq.get(), &kv, dn.get(), 1000, n_seq, n_head, n_head_kv, head_dim, ap.scale,
                            dout.get()),
     "attention_decode");
  expect_close(dout.read(), want, 1e-4, "split-K paged decode attention (GQA, 300 and 1000 cached rows)");
}

// A buffer on either side of the ABI (the GPU or the host emulation), filled from a host vector, freed on scope exit.
struct AbiBuffer {
  const sovren_cuda_api& a;
  sovren_cuda_backend* h;
  void* ptr = nullptr;
  size_t bytes;
  template <typename T>
  AbiBuffer(const sovren_cuda_api& api_, sovren_cuda_backend* handle, const std::vector<T>& host)
      : a(api_), h(handle), bytes(host.size() * sizeof(T)) {
    if (a.alloc(h, std::max<size_t>(bytes, 1), &ptr) != 0) throw EngineError(std::string("alloc: ") + a.last_error(h));
    if (bytes > 0 && a.upload(h, ptr, host.data(), bytes) != 0) {
      throw EngineError(std::string("upload: ") + a.last_error(h));
    }
  }
  ~AbiBuffer() { a.free(h, ptr); }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr);
  }
  std::vector<float> read() const {
    std::vector<float> out(bytes / sizeof(float));
    if (a.download(h, out.data(), ptr, bytes) != 0) throw EngineError(std::string("download: ") + a.last_error(h));
    return out;
  }
};

// What the forward pass does with a micro-batch on one side of the ABI: V bias, store the new K/V rows into the
// paged pools, causal prefill attention over them, a block copy. Returns {pools after the store, attention output,
// biased v, the pool after the copy}.
struct PagedInputs {
  int n_head = 8, n_head_kv = 2, head_dim = 128, block_rows = 16, max_blocks = 0;
  std::vector<float> k_pool, v_pool, q, k, v, bias;
  std::vector<int32_t> tables, row_seq, pos;
};
std::vector<std::vector<float>> run_paged_ops(const sovren_cuda_api& a, sovren_cuda_backend* h, const PagedInputs& in) {
  auto check_rc = [&](int rc, const char* what) {
    if (rc != 0) throw EngineError(std::string(what) + ": " + a.last_error(h));
  };
  const int n_rows = static_cast<int>(in.pos.size()), kv_dim = in.n_head_kv * in.head_dim;
  AbiBuffer kp(a, h, in.k_pool), vp(a, h, in.v_pool), q(a, h, in.q), k(a, h, in.k), v(a, h, in.v), bias(a, h, in.bias);
  AbiBuffer tables(a, h, in.tables), row_seq(a, h, in.row_seq), pos(a, h, in.pos);
  AbiBuffer out(a, h, std::vector<float>(in.q.size(), NAN));
  check_rc(a.add_bias(h, v.as<float>(), bias.as<float>(), n_rows, kv_dim), "add_bias");
  check_rc(a.kv_store(h, kp.as<float>(), vp.as<float>(), tables.as<int32_t>(), in.block_rows, in.max_blocks,
                      k.as<float>(), v.as<float>(), row_seq.as<int32_t>(), pos.as<int32_t>(), n_rows, kv_dim),
           "kv_store");
  const sovren_cuda_paged_kv kv = {kp.as<float>(), vp.as<float>(), tables.as<int32_t>(), in.block_rows, in.max_blocks};
  check_rc(a.attention_prefill(h, q.as<float>(), &kv, row_seq.as<int32_t>(), pos.as<int32_t>(), n_rows, in.n_head,
                               in.n_head_kv, in.head_dim, 1.0f / std::sqrt(static_cast<float>(in.head_dim)),
                               out.as<float>()),
           "attention_prefill");
  std::vector<std::vector<float>> results = {kp.read(), vp.read(), out.read(), v.read()};
  const size_t block_floats = static_cast<size_t>(in.block_rows) * kv_dim;
  check_rc(a.copy(h, kp.as<float>(), kp.as<float>() + block_floats, block_floats * sizeof(float)), "copy");
  results.push_back(kp.read());
  return results;
}

void test_forward_pass_ops() {
  std::mt19937 rng(2024);
  PagedInputs in;
  // Sequence 0 holds 50 rows and gets 7 more; sequence 1 holds 3 and gets a 20-row prompt chunk. Blocks shuffled.
  const int held[2] = {50, 3}, added[2] = {7, 20};
  in.max_blocks = 4;
  std::vector<int32_t> order(8);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  in.tables = order;
  const int kv_dim = in.n_head_kv * in.head_dim;
  in.k_pool = random_activations(static_cast<int64_t>(order.size()) * in.block_rows * kv_dim, rng);
  in.v_pool = random_activations(static_cast<int64_t>(in.k_pool.size()), rng);
  for (int s = 0; s < 2; ++s) {
    for (int t = 0; t < added[s]; ++t) {
      in.row_seq.push_back(s);
      in.pos.push_back(held[s] + t);
    }
  }
  const int64_t n_rows = static_cast<int64_t>(in.pos.size());
  in.q = random_activations(n_rows * in.n_head * in.head_dim, rng);
  in.k = random_activations(n_rows * kv_dim, rng);
  in.v = random_activations(n_rows * kv_dim, rng);
  in.bias = random_activations(kv_dim, rng);

  char err[256] = {};
  sovren_cuda_backend* host = create_host_device(2, 0, err, sizeof err);
  check(host != nullptr, std::string("host device: ") + err);
  if (host == nullptr) return;
  const auto want = run_paged_ops(host_device_api(), host, in);
  host_device_api().destroy(host);
  const auto got = run_paged_ops(api(), g_gpu, in);
  expect_close(got[0], want[0], 0.0, "kv_store writes the K rows into their blocks");
  expect_close(got[1], want[1], 1e-6, "kv_store writes the biased V rows into their blocks");
  expect_close(got[2], want[2], 1e-4, "causal prefill attention over the paged cache (2 sequences, 27 rows)");
  expect_close(got[3], want[3], 1e-6, "add_bias");
  expect_close(got[4], want[4], 0.0, "copy of a KV block");
}

// Weight uploads through the page-locked staging buffers (host_alloc): many small chunks over the two buffers, so a
// buffer rewritten before its transfer ended would show as corrupt bytes.
void test_staged_upload() {
  auto dev = DeviceContext::open_cuda();
  std::vector<uint8_t> bytes(1 << 20);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 131 + (i >> 8));
  DeviceBuffer buf(*dev, bytes.size(), "staged bytes");
  {
    StagedUpload stage(*dev, 4099);
    check(stage.staged(), "the GPU gives page-locked staging memory");
    stage.upload(buf.get(), bytes.data(), bytes.size(), "staged upload");
  }
  std::vector<uint8_t> back(bytes.size());
  dev->check(dev->api().download(dev->handle(), back.data(), buf.get(), back.size()), "download");
  check(back == bytes, "1 MiB in 256 chunks of 4099 bytes arrives intact");
}

}  // namespace

int main() {
  std::string why;
  g_plugin = CudaPlugin::load(&why);
  if (g_plugin == nullptr || g_plugin->device_count() <= 0) {
    std::printf("SKIP: no GPU to run the CUDA kernels on (%s)\n",
                g_plugin == nullptr ? why.c_str() : "the plugin loads but sees no CUDA device");
    return run_suites({});
  }
  char err[256] = {};
  g_gpu = api().create(0, err, sizeof err);
  if (g_gpu == nullptr) {
    std::printf("FAIL: cannot create the CUDA backend: %s\n", err);
    return 1;
  }
  const int rc = run_suites({{"matmul", test_matmul},
                             {"get_rows and elementwise", test_get_rows_and_elementwise},
                             {"rope", test_rope},
                             {"paged attention", test_paged_attention},
                             {"forward pass ops", test_forward_pass_ops},
                             {"staged upload", test_staged_upload}});
  api().destroy(g_gpu);
  return rc;
}
