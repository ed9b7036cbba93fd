// The device forward pass (see device-forward.h): the same micro-batched pass as LlamaModel::run_segments, every op a
// call through the plugin ABI on device pointers.
#include "model/device-forward.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "backend/cuda-plugin-loader.h"
#include "backend/host-device-api.h"
#include "core/error.h"
#include "model/llama-model.h"

namespace sovren {
namespace {

std::string mib(uint64_t bytes) { return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB"; }

bool env_is_one(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && std::string(v) == "1";
}

}  // namespace

DeviceContext::DeviceContext(const sovren_cuda_api& api, sovren_cuda_backend* handle,
                             std::shared_ptr<const void> keep_alive, std::string name)
    : api_(api),
      handle_(handle),
      keep_alive_(std::move(keep_alive)),
      name_(std::move(name)),
      sync_each_op_(env_is_one("SOVREN_DEVICE_SYNC")) {}

std::unique_ptr<DeviceContext> DeviceContext::open_cuda() {
  std::string why;
  std::shared_ptr<CudaPlugin> plugin = CudaPlugin::load(&why);
  if (plugin == nullptr)
    throw EngineError("SOVREN_ENGINE_BACKEND=cuda: the CUDA plugin is not available (" + why + ")");
  char err[512] = {};
  sovren_cuda_backend* handle = plugin->api().create(0, err, sizeof err);
  if (handle == nullptr) throw EngineError(std::string("SOVREN_ENGINE_BACKEND=cuda: cannot open GPU 0: ") + err);
  const sovren_cuda_api& api = plugin->api();
  return std::make_unique<DeviceContext>(api, handle, std::move(plugin), "cuda");
}

std::unique_ptr<DeviceContext> DeviceContext::open_host(int n_threads, uint64_t memory_cap) {
  char err[512] = {};
  sovren_cuda_backend* handle = create_host_device(n_threads, memory_cap, err, sizeof err);
  if (handle == nullptr) throw EngineError(err);
  return std::make_unique<DeviceContext>(host_device_api(), handle, nullptr, "host-device");
}

DeviceContext::~DeviceContext() { api_.destroy(handle_); }

void DeviceContext::check(int rc, const std::string& what) const {
  if (rc == 0 && sync_each_op_) rc = api_.synchronize(handle_);
  if (rc != 0) throw EngineError(what + ": " + api_.last_error(handle_));
}

DeviceBuffer::DeviceBuffer(DeviceContext& dev, size_t bytes, const std::string& what) {
  if (bytes == 0) throw EngineError("device allocation for " + what + " has no bytes");
  void* ptr = nullptr;
  if (dev.api().alloc(dev.handle(), bytes, &ptr) != 0 || ptr == nullptr) {
    throw EngineError("out of device memory: " + what + " (" + mib(bytes) + ") does not fit (" +
                      dev.api().last_error(dev.handle()) + ")");
  }
  dev_ = &dev, ptr_ = ptr, bytes_ = bytes;
  dev.allocated_ += bytes;
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    reset();
    dev_ = other.dev_, ptr_ = other.ptr_, bytes_ = other.bytes_;
    other.dev_ = nullptr, other.ptr_ = nullptr, other.bytes_ = 0;
  }
  return *this;
}

void DeviceBuffer::reset() {
  if (ptr_ == nullptr) return;
  // A failed free leaves the memory to the device context's destruction; nothing else can be done with it here.
  (void)dev_->api().free(dev_->handle(), ptr_);
  dev_->allocated_ -= bytes_;
  dev_ = nullptr, ptr_ = nullptr, bytes_ = 0;
}

StagedUpload::StagedUpload(DeviceContext& dev, size_t chunk_bytes) : dev_(dev), chunk_bytes_(chunk_bytes) {
  if (chunk_bytes_ == 0) throw EngineError("staged upload needs a positive chunk size");
  for (void*& buf : staging_) {
    if (dev_.api().host_alloc(dev_.handle(), chunk_bytes_, &buf) != 0) buf = nullptr;
  }
  if (staging_[0] == nullptr || staging_[1] == nullptr) {  // fall back to pageable uploads
    for (void*& buf : staging_) {
      if (buf != nullptr) (void)dev_.api().host_free(dev_.handle(), buf);
      buf = nullptr;
    }
  }
}

StagedUpload::~StagedUpload() {
  // host_free waits for the transfers; a failure here has nowhere to be reported.
  for (void* buf : staging_) {
    if (buf != nullptr) (void)dev_.api().host_free(dev_.handle(), buf);
  }
}

void StagedUpload::upload(void* device_dst, const void* host_src, size_t bytes, const std::string& what) {
  const sovren_cuda_api& api = dev_.api();
  if (!staged()) {
    dev_.check(api.upload(dev_.handle(), device_dst, host_src, bytes), what);
    return;
  }
  for (size_t offset = 0; offset < bytes; offset += chunk_bytes_, ++chunks_) {
    const size_t n = std::min(chunk_bytes_, bytes - offset);
    // This buffer's last transfer (two chunks ago) ended at the synchronize before the previous chunk's upload.
    void* buf = staging_[chunks_ % 2];
    std::memcpy(buf, static_cast<const uint8_t*>(host_src) + offset, n);
    dev_.check(api.synchronize(dev_.handle()), what);  // the previous chunk is across: its buffer is free next
    dev_.check(api.upload(dev_.handle(), static_cast<uint8_t*>(device_dst) + offset, buf, n), what);
  }
}

DeviceForward::DeviceForward(std::unique_ptr<DeviceContext> dev, const LlamaHparams& hp, const WeightView& token_embd,
                             const WeightView& output, const std::vector<float>& output_norm,
                             const std::vector<float>& rope_freq_factors, std::span<const LayerWeights> layers,
                             int64_t kv_tokens, int n_ctx)
    : dev_(std::move(dev)), hp_(hp) {
  if (hp_.head_dim > 256) {
    throw EngineError("the device forward pass supports head_dim up to 256, the model has " +
                      std::to_string(hp_.head_dim));
  }
  StagedUpload stage(*dev_);
  token_embd_ = upload_matrix(stage, token_embd, "token_embd.weight");
  if (output.data != token_embd.data) output_ = upload_matrix(stage, output, "output.weight");
  output_norm_ = upload_vector(output_norm, "output_norm.weight");
  if (!rope_freq_factors.empty()) rope_freq_factors_ = upload_vector(rope_freq_factors, "rope_freqs.weight");
  layers_.resize(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerWeights& L = layers[i];
    Layer& D = layers_[i];
    const std::string b = "blk." + std::to_string(i) + ".";
    D.attn_norm = upload_vector(L.attn_norm, b + "attn_norm.weight");
    D.ffn_norm = upload_vector(L.ffn_norm, b + "ffn_norm.weight");
    if (!L.bq.empty()) {
      D.bq = upload_vector(L.bq, b + "attn_q.bias");
      D.bk = upload_vector(L.bk, b + "attn_k.bias");
      D.bv = upload_vector(L.bv, b + "attn_v.bias");
    }
    D.wq = upload_matrix(stage, L.wq, b + "attn_q.weight");
    D.wk = upload_matrix(stage, L.wk, b + "attn_k.weight");
    D.wv = upload_matrix(stage, L.wv, b + "attn_v.weight");
    D.wo = upload_matrix(stage, L.wo, b + "attn_output.weight");
    D.w_gate = upload_matrix(stage, L.w_gate, b + "ffn_gate.weight");
    D.w_up = upload_matrix(stage, L.w_up, b + "ffn_up.weight");
    D.w_down = upload_matrix(stage, L.w_down, b + "ffn_down.weight");
  }
  allocate_kv_pool(kv_tokens, n_ctx);
}

DeviceForward::~DeviceForward() {
  // Queued work must finish before its buffers go; a failure here has nowhere to be reported.
  (void)dev_->api().synchronize(dev_->handle());
}

DeviceForward::Matrix DeviceForward::upload_matrix(StagedUpload& stage, const WeightView& w, const std::string& name) {
  const auto row_bytes = tensor_row_bytes(w.type, static_cast<uint64_t>(w.cols));
  if (!row_bytes.has_value() || w.rows <= 0 || w.data == nullptr) {
    throw EngineError("tensor '" + name + "' cannot be uploaded: no row size for its type and shape");
  }
  const size_t bytes = *row_bytes * static_cast<size_t>(w.rows);
  Matrix m{DeviceBuffer(*dev_, bytes, "weight tensor '" + name + "'"), w};
  stage.upload(m.data.get(), w.data, bytes, "uploading tensor '" + name + "'");
  return m;
}

DeviceBuffer DeviceForward::upload_vector(const std::vector<float>& v, const std::string& name) {
  DeviceBuffer buf(*dev_, v.size() * sizeof(float), "tensor '" + name + "'");
  dev_->check(dev_->api().upload(dev_->handle(), buf.get(), v.data(), buf.bytes()), "uploading tensor '" + name + "'");
  return buf;
}

size_t DeviceForward::block_bytes() const {
  return 2 * static_cast<size_t>(hp_.n_layer) * kBlockRows * hp_.kv_dim() * sizeof(float);
}

void DeviceForward::allocate_kv_pool(int64_t kv_tokens, int n_ctx) {
  int64_t blocks = 0;
  if (kv_tokens > 0) {
    blocks = blocks_for(static_cast<int>(std::min<int64_t>(kv_tokens, INT32_MAX - kBlockRows)));
  } else {
    uint64_t used = 0, total = 0;
    dev_->check(dev_->api().device_bytes(dev_->handle(), &used, &total), "reading the device's memory");
    const uint64_t room = total > used ? (total - used) / 10 * 9 : 0;
    blocks = std::min<int64_t>(static_cast<int64_t>(kDefaultKvContexts) * blocks_for(n_ctx),
                               static_cast<int64_t>(room / block_bytes()));
    if (blocks < blocks_for(n_ctx)) {
      throw EngineError("out of device memory: the KV cache needs at least one context of " + std::to_string(n_ctx) +
                        " tokens (" + mib(static_cast<uint64_t>(blocks_for(n_ctx)) * block_bytes()) + "), " +
                        mib(room) + " usable after the weights (" + mib(dev_->allocated()) + ")");
    }
  }
  blocks = std::min<int64_t>(blocks, INT32_MAX / kBlockRows);
  const size_t pool_bytes = block_bytes() / 2 * static_cast<size_t>(blocks);
  k_pool_ = DeviceBuffer(*dev_, pool_bytes, "KV cache K pool of " + std::to_string(blocks * kBlockRows) + " tokens");
  v_pool_ = DeviceBuffer(*dev_, pool_bytes, "KV cache V pool of " + std::to_string(blocks * kBlockRows) + " tokens");
  n_blocks_ = static_cast<int>(blocks);
  free_.resize(static_cast<size_t>(n_blocks_));
  // Highest id at the front so blocks are handed out from 0 upwards.
  for (int i = 0; i < n_blocks_; ++i) free_[static_cast<size_t>(i)] = n_blocks_ - 1 - i;
}

int DeviceForward::free_blocks() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(free_.size());
}

void DeviceForward::release(std::vector<int32_t>& blocks) {
  std::lock_guard<std::mutex> lock(mutex_);
  free_.insert(free_.end(), blocks.rbegin(), blocks.rend());
  blocks.clear();
}

void DeviceForward::truncate(std::vector<int32_t>& blocks, int n_rows) {
  std::lock_guard<std::mutex> lock(mutex_);
  const size_t keep = static_cast<size_t>(blocks_for(std::max(n_rows, 0)));
  while (blocks.size() > keep) {
    free_.push_back(blocks.back());
    blocks.pop_back();
  }
}

void DeviceForward::copy_blocks(const std::vector<int32_t>& src, const std::vector<int32_t>& dst, size_t n_blocks) {
  const size_t block_floats = static_cast<size_t>(kBlockRows) * hp_.kv_dim();
  const size_t layer_floats = block_floats * static_cast<size_t>(n_blocks_);
  for (uint32_t l = 0; l < hp_.n_layer; ++l) {
    for (size_t i = 0; i < n_blocks; ++i) {
      for (const DeviceBuffer* pool : {&k_pool_, &v_pool_}) {
        float* base = pool->get<float>() + l * layer_floats;
        dev_->check(dev_->api().copy(dev_->handle(), base + static_cast<size_t>(dst[i]) * block_floats,
                                     base + static_cast<size_t>(src[i]) * block_floats, block_floats * sizeof(float)),
                    "copying KV blocks");
      }
    }
  }
}

void DeviceForward::copy_rows(const std::vector<int32_t>& src, std::vector<int32_t>& dst, int n_rows) {
  std::lock_guard<std::mutex> lock(mutex_);
  const size_t need = static_cast<size_t>(blocks_for(std::max(n_rows, 0)));
  if (need > src.size()) throw EngineError("copying KV rows: the source holds fewer rows than asked for");
  if (need > dst.size() && need - dst.size() > free_.size()) {
    throw EngineError("KV cache is full: copying " + std::to_string(n_rows) + " rows needs " +
                      std::to_string(need - dst.size()) + " more blocks of " + std::to_string(kBlockRows) +
                      " tokens, " + std::to_string(free_.size()) + " of " + std::to_string(n_blocks_) + " are free");
  }
  while (dst.size() > need) {
    free_.push_back(dst.back());
    dst.pop_back();
  }
  while (dst.size() < need) {
    dst.push_back(free_.back());
    free_.pop_back();
  }
  copy_blocks(src, dst, need);
}

void DeviceForward::ensure_rows(int n) {
  if (n <= rows_cap_) return;
  const int cap = std::min(LlamaModel::kMaxBatch, std::max({n, 2 * rows_cap_, 16}));
  const auto rows = static_cast<size_t>(cap);
  const size_t n_embd = hp_.n_embd, q_dim = hp_.q_dim(), kv_dim = hp_.kv_dim(), n_ff = hp_.n_ff;
  for (DeviceBuffer* b : {&x_, &xb_, &q_, &k_, &v_, &attn_out_, &gate_, &up_, &hidden_}) b->reset();
  rows_cap_ = 0;
  const std::string what = "activations for " + std::to_string(cap) + " rows";
  x_ = DeviceBuffer(*dev_, rows * n_embd * sizeof(float), what);
  xb_ = DeviceBuffer(*dev_, rows * std::max(n_embd, q_dim) * sizeof(float), what);
  q_ = DeviceBuffer(*dev_, rows * q_dim * sizeof(float), what);
  k_ = DeviceBuffer(*dev_, rows * kv_dim * sizeof(float), what);
  v_ = DeviceBuffer(*dev_, rows * kv_dim * sizeof(float), what);
  attn_out_ = DeviceBuffer(*dev_, rows * q_dim * sizeof(float), what);
  gate_ = DeviceBuffer(*dev_, rows * n_ff * sizeof(float), what);
  up_ = DeviceBuffer(*dev_, rows * n_ff * sizeof(float), what);
  hidden_ = DeviceBuffer(*dev_, rows * n_embd * sizeof(float), what);
  rows_cap_ = cap;
}

void DeviceForward::ensure_logit_rows(int m) {
  if (m <= logit_rows_cap_) return;
  const int cap = std::min(LlamaModel::kMaxBatch, std::max(m, 2 * logit_rows_cap_));
  logits_.reset();
  logit_rows_cap_ = 0;
  logits_ = DeviceBuffer(*dev_, static_cast<size_t>(cap) * hp_.n_vocab * sizeof(float),
                         "logits for " + std::to_string(cap) + " rows");
  logit_rows_cap_ = cap;
}

void DeviceForward::ensure_meta(size_t count) {
  if (count <= meta_cap_) return;
  const size_t cap = std::max(count, 2 * meta_cap_);
  meta_.reset();
  meta_cap_ = 0;
  meta_ = DeviceBuffer(*dev_, cap * sizeof(int32_t), "token ids, positions and block tables");
  meta_cap_ = cap;
}

void DeviceForward::grow_tables(std::span<const Segment> segments) {
  size_t need = 0;
  for (const Segment& seg : segments) {
    const size_t want = static_cast<size_t>(blocks_for(seg.n_past + seg.n));
    if (want > seg.blocks->size()) need += want - seg.blocks->size();
  }
  if (need > free_.size()) {
    throw EngineError("KV cache is full: this pass needs " + std::to_string(need) + " more blocks of " +
                      std::to_string(kBlockRows) + " tokens, " + std::to_string(free_.size()) + " of " +
                      std::to_string(n_blocks_) + " are free (reset or destroy idle sequences, or load the model " +
                      "with a larger KV cache)");
  }
  for (const Segment& seg : segments) {
    const size_t want = static_cast<size_t>(blocks_for(seg.n_past + seg.n));
    while (seg.blocks->size() < want) {
      seg.blocks->push_back(free_.back());
      free_.pop_back();
    }
  }
}

void DeviceForward::matmul(const Matrix& w, const float* x, int n, float* y) {
  dev_->check(dev_->api().matmul(dev_->handle(), static_cast<uint32_t>(w.shape.type), w.data.get(), w.shape.rows,
                                 w.shape.cols, x, n, y),
              "matmul");
}

void DeviceForward::run(std::span<const Segment> segments) {
  std::lock_guard<std::mutex> lock(mutex_);
  const sovren_cuda_api& api = dev_->api();
  sovren_cuda_backend* const h = dev_->handle();
  const int n_embd = static_cast<int>(hp_.n_embd);
  const int kv_dim = static_cast<int>(hp_.kv_dim()), n_ff = static_cast<int>(hp_.n_ff);
  const int n_head = static_cast<int>(hp_.n_head), n_head_kv = static_cast<int>(hp_.n_head_kv);
  const int head_dim = static_cast<int>(hp_.head_dim);
  const size_t n_vocab = hp_.n_vocab;

  int n = 0, m = 0, max_n_kv = 0;
  bool decode = true;  // one new row per sequence: the split-K decode kernel; otherwise causal prefill
  for (const Segment& seg : segments) {
    if (seg.n <= 0 || seg.n_past < 0) throw EngineError("device forward pass: empty or negative segment");
    n += seg.n;
    if (seg.logits != nullptr) m += seg.all_logits ? seg.n : 1;
    max_n_kv = std::max(max_n_kv, seg.n_past + seg.n);
    decode = decode && seg.n == 1;
  }
  if (n == 0) return;
  if (n > LlamaModel::kMaxBatch) throw EngineError("device forward pass: more rows than a micro-batch holds");
  ensure_rows(n);
  if (m > 0) ensure_logit_rows(m);
  const int n_seg = static_cast<int>(segments.size());
  const int max_blocks = blocks_for(max_n_kv);
  // Metadata, one upload: tokens[n], pos[n], row_seq[n], n_kv[n_seg], tables[n_seg][max_blocks].
  const size_t meta_count = 3 * static_cast<size_t>(n) + n_seg + static_cast<size_t>(n_seg) * max_blocks;
  ensure_meta(meta_count);
  grow_tables(segments);  // last: nothing above changed any sequence

  meta_host_.assign(meta_count, -1);
  int32_t* tokens = meta_host_.data();
  int32_t* pos = tokens + n;
  int32_t* row_seq = pos + n;
  int32_t* n_kv = row_seq + n;
  int32_t* tables = n_kv + n_seg;
  for (int s = 0, row = 0; s < n_seg; ++s) {
    const Segment& seg = segments[static_cast<size_t>(s)];
    for (int t = 0; t < seg.n; ++t, ++row) {
      tokens[row] = seg.tokens[t];
      pos[row] = seg.n_past + t;
      row_seq[row] = s;
    }
    n_kv[s] = seg.n_past + seg.n;
    std::copy_n(seg.blocks->data(), blocks_for(n_kv[s]), tables + static_cast<size_t>(s) * max_blocks);
  }
  auto* d_meta = meta_.get<int32_t>();
  dev_->check(api.upload(h, d_meta, meta_host_.data(), meta_count * sizeof(int32_t)), "uploading token metadata");
  const int32_t* d_tokens = d_meta;
  const int32_t* d_pos = d_tokens + n;
  const int32_t* d_row_seq = d_pos + n;
  const int32_t* d_n_kv = d_row_seq + n;
  const int32_t* d_tables = d_n_kv + n_seg;

  float* x = x_.get<float>();
  float* xb = xb_.get<float>();
  float* q = q_.get<float>();
  float* k = k_.get<float>();
  float* v = v_.get<float>();
  float* attn_out = attn_out_.get<float>();
  float* gate = gate_.get<float>();
  float* up = up_.get<float>();
  const size_t un = static_cast<size_t>(n);
  const sovren_cuda_rope rope{static_cast<int>(hp_.n_rot), hp_.rope_freq_base, hp_.rope_freq_scale,
                              hp_.rope_neox ? 1 : 0, rope_freq_factors_.get<float>()};
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const size_t layer_floats = static_cast<size_t>(n_blocks_) * kBlockRows * kv_dim;

  dev_->check(
      api.get_rows(h, static_cast<uint32_t>(token_embd_.shape.type), token_embd_.data.get(), n_embd, d_tokens, n, x),
      "token embedding");
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& L = layers_[l];
    const std::string at = "layer " + std::to_string(l) + ": ";
    dev_->check(api.rms_norm(h, x, L.attn_norm.get<float>(), n, n_embd, hp_.rms_eps, xb), at + "attention norm");
    matmul(L.wq, xb, n, q);
    matmul(L.wk, xb, n, k);
    matmul(L.wv, xb, n, v);
    if (L.bv.get() != nullptr) dev_->check(api.add_bias(h, v, L.bv.get<float>(), n, kv_dim), at + "V bias");
    dev_->check(api.rope(h, q, L.bq.get<float>(), d_pos, n, n_head, head_dim, &rope), at + "rope Q");
    dev_->check(api.rope(h, k, L.bk.get<float>(), d_pos, n, n_head_kv, head_dim, &rope), at + "rope K");
    float* k_pool = k_pool_.get<float>() + l * layer_floats;
    float* v_pool = v_pool_.get<float>() + l * layer_floats;
    dev_->check(api.kv_store(h, k_pool, v_pool, d_tables, kBlockRows, max_blocks, k, v, d_row_seq, d_pos, n, kv_dim),
                at + "KV store");
    const sovren_cuda_paged_kv kv{k_pool, v_pool, d_tables, kBlockRows, max_blocks};
    if (decode) {
      dev_->check(
          api.attention_decode(h, q, &kv, d_n_kv, max_n_kv, n_seg, n_head, n_head_kv, head_dim, scale, attn_out),
          at + "decode attention");
    } else {
      dev_->check(api.attention_prefill(h, q, &kv, d_row_seq, d_pos, n, n_head, n_head_kv, head_dim, scale, attn_out),
                  at + "prefill attention");
    }
    matmul(L.wo, attn_out, n, xb);
    dev_->check(api.add(h, x, xb, un * n_embd), at + "residual");
    dev_->check(api.rms_norm(h, x, L.ffn_norm.get<float>(), n, n_embd, hp_.rms_eps, xb), at + "feed-forward norm");
    matmul(L.w_gate, xb, n, gate);
    matmul(L.w_up, xb, n, up);
    dev_->check(api.silu_mul(h, gate, up, un * n_ff), at + "silu_mul");
    matmul(L.w_down, gate, n, xb);
    dev_->check(api.add(h, x, xb, un * n_embd), at + "residual");
  }

  const float* out_norm = output_norm_.get<float>();
  for (int s = 0, row = 0; s < n_seg; row += segments[static_cast<size_t>(s)].n, ++s) {
    const Segment& seg = segments[static_cast<size_t>(s)];
    if (seg.hidden == nullptr) continue;
    float* hid = hidden_.get<float>();
    dev_->check(api.rms_norm(h, x + static_cast<size_t>(row) * n_embd, out_norm, seg.n, n_embd, hp_.rms_eps, hid),
                "output norm");
    dev_->check(api.download(h, seg.hidden, hid, static_cast<size_t>(seg.n) * n_embd * sizeof(float)),
                "downloading hidden states");
  }
  if (m == 0) {
    dev_->check(api.synchronize(h), "finishing the pass");
    return;
  }
  // Rows that want logits, gathered into xb so the output matrix is read once for all of them.
  int gathered = 0;
  for (int s = 0, row = 0; s < n_seg; row += segments[static_cast<size_t>(s)].n, ++s) {
    const Segment& seg = segments[static_cast<size_t>(s)];
    if (seg.logits == nullptr) continue;
    const int rows = seg.all_logits ? seg.n : 1;
    dev_->check(
        api.copy(h, xb + static_cast<size_t>(gathered) * n_embd, x + static_cast<size_t>(row + seg.n - rows) * n_embd,
                 static_cast<size_t>(rows) * n_embd * sizeof(float)),
        "gathering logit rows");
    gathered += rows;
  }
  dev_->check(api.rms_norm(h, xb, out_norm, m, n_embd, hp_.rms_eps, xb), "output norm");
  float* logits = logits_.get<float>();
  matmul(output_.data.get() != nullptr ? output_ : token_embd_, xb, m, logits);
  size_t offset = 0;
  for (const Segment& seg : segments) {
    if (seg.logits == nullptr) continue;
    const size_t count = static_cast<size_t>(seg.all_logits ? seg.n : 1) * n_vocab;
    dev_->check(api.download(h, seg.logits, logits + offset, count * sizeof(float)), "downloading logits");
    offset += count;
  }
}

}  // namespace sovren
