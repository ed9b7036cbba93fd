// The host emulation of the CUDA plugin ABI (see host-device-api.h): the CPU backend behind the device ABI.
// Allocations are tracked so every pointer range
// an op is given can be checked against a live allocation: a forward-pass bug is a clear error here, not a GPU fault.
#include "backend/host-device-api.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "tensor/tensor-type.h"

namespace sovren {
namespace {

struct HostDevice {
  std::unique_ptr<Backend> cpu;
  uint64_t cap = 0;  // 0: none
  uint64_t used = 0;
  std::map<uintptr_t, size_t> allocations;  // start -> bytes
  std::set<void*> host_allocations;         // "page-locked" staging memory: plain host memory here
  std::string error;
};

HostDevice* device_of(sovren_cuda_backend* b) { return reinterpret_cast<HostDevice*>(b); }

// Runs an op, turning any exception into the ABI's non-zero return with the message kept for last_error.
template <typename F>
int guarded(sovren_cuda_backend* b, const char* what, F&& f) {
  try {
    f(*device_of(b));
    return 0;
  } catch (const std::exception& e) {
    device_of(b)->error = std::string(what) + ": " + e.what();
    return 1;
  }
}

struct HostDeviceError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Bytes from p to the end of the live allocation that holds it; throws when p lies in none.
size_t bytes_after(const HostDevice& d, const void* p) {
  const auto at = reinterpret_cast<uintptr_t>(p);
  auto it = d.allocations.upper_bound(at);
  if (it == d.allocations.begin()) throw HostDeviceError("pointer is not in any device allocation");
  --it;
  if (at >= it->first + it->second) throw HostDeviceError("pointer is not in any device allocation");
  return it->first + it->second - at;
}

void check_range(const HostDevice& d, const void* p, size_t bytes, const char* name) {
  if (bytes == 0) return;
  const size_t room = bytes_after(d, p);
  if (room < bytes) {
    throw HostDeviceError(std::string(name) + ": " + std::to_string(bytes) +
                          " bytes run past the end of its allocation (" + std::to_string(room) + " left)");
  }
}

int device_count() { return 1; }

sovren_cuda_backend* create(int device, char* err, size_t err_len) { return create_host_device(1, 0, err, err_len); }

void destroy(sovren_cuda_backend* b) {
  if (b == nullptr) return;
  for (const auto& [start, bytes] : device_of(b)->allocations) std::free(reinterpret_cast<void*>(start));
  for (void* p : device_of(b)->host_allocations) std::free(p);
  delete device_of(b);
}

const char* last_error(const sovren_cuda_backend* b) { return reinterpret_cast<const HostDevice*>(b)->error.c_str(); }

uint64_t physical_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}

int device_bytes(sovren_cuda_backend* b, uint64_t* used, uint64_t* total) {
  return guarded(b, "device_bytes", [&](HostDevice& d) {
    *used = d.used;
    *total = d.cap != 0 ? d.cap : std::max(physical_memory(), d.used);
  });
}

int alloc(sovren_cuda_backend* b, size_t bytes, void** ptr) {
  return guarded(b, "alloc", [&](HostDevice& d) {
    *ptr = nullptr;
    if (bytes == 0) throw HostDeviceError("zero-byte allocation");
    if (d.cap != 0 && bytes > d.cap - std::min(d.cap, d.used)) {
      throw HostDeviceError("out of memory: " + std::to_string(bytes) + " bytes asked for, " +
                            std::to_string(d.cap - std::min(d.cap, d.used)) + " free of the " + std::to_string(d.cap) +
                            "-byte cap");
    }
    const size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded);
    if (p == nullptr) throw HostDeviceError("out of host memory for " + std::to_string(bytes) + " bytes");
    d.allocations.emplace(reinterpret_cast<uintptr_t>(p), bytes);
    d.used += bytes;
    *ptr = p;
  });
}

int free_ptr(sovren_cuda_backend* b, void* ptr) {
  return guarded(b, "free", [&](HostDevice& d) {
    const auto it = d.allocations.find(reinterpret_cast<uintptr_t>(ptr));
    if (it == d.allocations.end()) throw HostDeviceError("pointer was not allocated by this device");
    d.used -= it->second;
    d.allocations.erase(it);
    std::free(ptr);
  });
}

int upload(sovren_cuda_backend* b, void* dst, const void* src, size_t bytes) {
  return guarded(b, "upload", [&](HostDevice& d) {
    check_range(d, dst, bytes, "destination");
    if (bytes > 0) std::memcpy(dst, src, bytes);
  });
}

int download(sovren_cuda_backend* b, void* dst, const void* src, size_t bytes) {
  return guarded(b, "download", [&](HostDevice& d) {
    check_range(d, src, bytes, "source");
    if (bytes > 0) std::memcpy(dst, src, bytes);
  });
}

int copy(sovren_cuda_backend* b, void* dst, const void* src, size_t bytes) {
  return guarded(b, "copy", [&](HostDevice& d) {
    check_range(d, src, bytes, "source");
    check_range(d, dst, bytes, "destination");
    if (bytes > 0) std::memmove(dst, src, bytes);
  });
}

// A weight matrix at w whose rows run to the end of its allocation (the ABI gives no row count to get_rows).
WeightView weight_at(const HostDevice& d, uint32_t type, const void* w, int64_t cols) {
  const auto tt = static_cast<TensorType>(type);
  const auto row_bytes = tensor_row_bytes(tt, static_cast<uint64_t>(cols));
  if (!row_bytes.has_value() || *row_bytes == 0) {
    throw HostDeviceError("type " + std::to_string(type) + " with " + std::to_string(cols) +
                          " columns has no row size");
  }
  const auto rows = static_cast<int64_t>(bytes_after(d, w) / *row_bytes);
  return WeightView{tt, rows, cols, static_cast<const uint8_t*>(w)};
}

int get_rows(sovren_cuda_backend* b, uint32_t type, const void* w, int64_t cols, const int32_t* ids, int n,
             float* out) {
  return guarded(b, "get_rows", [&](HostDevice& d) {
    check_range(d, out, static_cast<size_t>(std::max(n, 0)) * cols * sizeof(float), "out");
    d.cpu->get_rows(weight_at(d, type, w, cols), ids, n, out);
  });
}

int rms_norm(sovren_cuda_backend* b, const float* x, const float* weight, int n_tokens, int dim, float eps,
             float* out) {
  return guarded(b, "rms_norm", [&](HostDevice& d) { d.cpu->rms_norm(x, weight, n_tokens, dim, eps, out); });
}

int add_bias(sovren_cuda_backend* b, float* x, const float* bias, int n_tokens, int dim) {
  return guarded(b, "add_bias", [&](HostDevice& d) { d.cpu->add_bias(x, bias, n_tokens, dim); });
}

int rope(sovren_cuda_backend* b, float* x, const float* bias, const int32_t* pos, int n_tokens, int n_heads,
         int head_dim, const sovren_cuda_rope* p) {
  return guarded(b, "rope", [&](HostDevice& d) {
    if (bias != nullptr) d.cpu->add_bias(x, bias, n_tokens, n_heads * head_dim);
    const RopeParams rp{p->n_rot, p->freq_base, p->freq_scale, p->neox != 0, p->freq_factors};
    d.cpu->rope(x, pos, n_tokens, n_heads, head_dim, rp);
  });
}

int silu_mul(sovren_cuda_backend* b, float* gate, const float* up, size_t n) {
  return guarded(b, "silu_mul", [&](HostDevice& d) { d.cpu->silu_mul(gate, up, n); });
}

int add(sovren_cuda_backend* b, float* x, const float* y, size_t n) {
  return guarded(b, "add", [&](HostDevice& d) { d.cpu->add(x, y, n); });
}

int matmul(sovren_cuda_backend* b, uint32_t type, const void* w, int64_t rows, int64_t cols, const float* x,
           int n_tokens, float* y) {
  return guarded(b, "matmul", [&](HostDevice& d) {
    const WeightView view = weight_at(d, type, w, cols);
    if (view.rows < rows) {
      throw HostDeviceError(std::to_string(rows) + " rows asked for, the allocation holds " +
                            std::to_string(view.rows));
    }
    check_range(d, y, static_cast<size_t>(std::max(n_tokens, 0)) * rows * sizeof(float), "y");
    d.cpu->matmul(WeightView{view.type, rows, cols, view.data}, x, n_tokens, y);
  });
}

// The first n rows of one sequence's paged cache gathered into contiguous K and V arrays ([n][kv_dim]), so the CPU
// backend's own attention runs on them: the emulated device then computes exactly what the CPU backend does, and a
// test that compares the two checks the forward pass's paging and batching, not two attention implementations.
void gather_rows(const sovren_cuda_paged_kv& kv, const int32_t* table, int n, int kv_dim, std::vector<float>& k,
                 std::vector<float>& v) {
  if (n <= 0) throw HostDeviceError("a row attends to no cache rows");
  if (n > kv.max_blocks * kv.block_rows) throw HostDeviceError(std::to_string(n) + " rows exceed the block table");
  const auto row = static_cast<size_t>(kv_dim);
  k.resize(static_cast<size_t>(n) * row);
  v.resize(k.size());
  for (int p = 0; p < n; ++p) {
    const int64_t blk = table[p / kv.block_rows];
    if (blk < 0) throw HostDeviceError("position " + std::to_string(p) + " has no block in its block table");
    const size_t at = static_cast<size_t>(blk * kv.block_rows + p % kv.block_rows) * row;
    std::memcpy(k.data() + p * row, kv.k_pool + at, row * sizeof(float));
    std::memcpy(v.data() + p * row, kv.v_pool + at, row * sizeof(float));
  }
}

AttentionParams checked_heads(int n_head, int n_head_kv, int head_dim, float scale, int block_rows) {
  if (n_head <= 0 || n_head_kv <= 0 || n_head % n_head_kv != 0 || head_dim <= 0 || block_rows <= 0) {
    throw HostDeviceError("bad shape: n_head " + std::to_string(n_head) + ", n_head_kv " + std::to_string(n_head_kv) +
                          ", head_dim " + std::to_string(head_dim) + ", block_rows " + std::to_string(block_rows));
  }
  return AttentionParams{n_head, n_head_kv, head_dim, scale};
}

int attention_decode(sovren_cuda_backend* b, const float* q, const sovren_cuda_paged_kv* kv, const int32_t* n_kv,
                     int max_n_kv, int n_seq, int n_head, int n_head_kv, int head_dim, float scale, float* out) {
  return guarded(b, "attention_decode", [&](HostDevice& d) {
    const AttentionParams p = checked_heads(n_head, n_head_kv, head_dim, scale, kv->block_rows);
    std::vector<float> k, v;
    for (int s = 0; s < n_seq; ++s) {
      if (n_kv[s] > max_n_kv) throw HostDeviceError("sequence " + std::to_string(s) + " exceeds max_n_kv");
      gather_rows(*kv, kv->block_table + static_cast<int64_t>(s) * kv->max_blocks, n_kv[s], n_head_kv * head_dim, k, v);
      const size_t at = static_cast<size_t>(s) * n_head * head_dim;
      const int32_t last = n_kv[s] - 1;
      d.cpu->attention(q + at, k.data(), v.data(), n_kv[s], &last, 1, p, out + at);
    }
  });
}

int attention_prefill(sovren_cuda_backend* b, const float* q, const sovren_cuda_paged_kv* kv, const int32_t* row_seq,
                      const int32_t* pos, int n_rows, int n_head, int n_head_kv, int head_dim, float scale,
                      float* out) {
  return guarded(b, "attention_prefill", [&](HostDevice& d) {
    const AttentionParams p = checked_heads(n_head, n_head_kv, head_dim, scale, kv->block_rows);
    std::vector<float> k, v;
    for (int r0 = 0, r1 = 0; r0 < n_rows; r0 = r1) {  // runs of rows of one sequence: one gather each
      int n = 0;
      for (r1 = r0; r1 < n_rows && row_seq[r1] == row_seq[r0]; ++r1) n = std::max(n, pos[r1] + 1);
      gather_rows(*kv, kv->block_table + static_cast<int64_t>(row_seq[r0]) * kv->max_blocks, n, n_head_kv * head_dim, k,
                  v);
      const size_t at = static_cast<size_t>(r0) * n_head * head_dim;
      d.cpu->attention(q + at, k.data(), v.data(), n, pos + r0, r1 - r0, p, out + at);
    }
  });
}

int kv_store(sovren_cuda_backend* b, float* k_pool, float* v_pool, const int32_t* block_tables, int block_rows,
             int max_blocks, const float* k, const float* v, const int32_t* row_seq, const int32_t* pos, int n_rows,
             int kv_dim) {
  return guarded(b, "kv_store", [&](HostDevice& d) {
    if (block_rows <= 0 || max_blocks <= 0 || kv_dim <= 0) throw HostDeviceError("bad block shape");
    const auto row_bytes = static_cast<size_t>(kv_dim) * sizeof(float);
    for (int r = 0; r < n_rows; ++r) {
      if (pos[r] < 0 || pos[r] >= max_blocks * block_rows) {
        throw HostDeviceError("position " + std::to_string(pos[r]) + " beyond the block table");
      }
      const int64_t blk = block_tables[static_cast<int64_t>(row_seq[r]) * max_blocks + pos[r] / block_rows];
      if (blk < 0) throw HostDeviceError("position " + std::to_string(pos[r]) + " has no block");
      const int64_t dst = (blk * block_rows + pos[r] % block_rows) * kv_dim;
      check_range(d, k_pool + dst, row_bytes, "k_pool row");
      check_range(d, v_pool + dst, row_bytes, "v_pool row");
      std::memcpy(k_pool + dst, k + static_cast<int64_t>(r) * kv_dim, row_bytes);
      std::memcpy(v_pool + dst, v + static_cast<int64_t>(r) * kv_dim, row_bytes);
    }
  });
}

int synchronize(sovren_cuda_backend*) { return 0; }

int host_alloc(sovren_cuda_backend* b, size_t bytes, void** ptr) {
  return guarded(b, "host_alloc", [&](HostDevice& d) {
    *ptr = nullptr;
    if (bytes == 0) throw HostDeviceError("zero-byte allocation");
    void* p = std::malloc(bytes);
    if (p == nullptr) throw HostDeviceError("out of host memory for " + std::to_string(bytes) + " bytes");
    d.host_allocations.insert(p);
    *ptr = p;
  });
}

int host_free(sovren_cuda_backend* b, void* ptr) {
  return guarded(b, "host_free", [&](HostDevice& d) {
    if (d.host_allocations.erase(ptr) == 0) throw HostDeviceError("pointer was not allocated by host_alloc");
    std::free(ptr);
  });
}

const sovren_cuda_api kHostApi = {
    .abi_version = SOVREN_CUDA_ABI_VERSION,
    .device_count = device_count,
    .create = create,
    .destroy = destroy,
    .last_error = last_error,
    .device_bytes = device_bytes,
    .alloc = alloc,
    .free = free_ptr,
    .upload = upload,
    .download = download,
    .get_rows = get_rows,
    .rms_norm = rms_norm,
    .rope = rope,
    .silu_mul = silu_mul,
    .add = add,
    .matmul = matmul,
    .attention_decode = attention_decode,
    .synchronize = synchronize,
    .add_bias = add_bias,
    .copy = copy,
    .kv_store = kv_store,
    .attention_prefill = attention_prefill,
    .host_alloc = host_alloc,
    .host_free = host_free,
};

}  // namespace

const sovren_cuda_api& host_device_api() { return kHostApi; }

sovren_cuda_backend* create_host_device(int n_threads, uint64_t memory_cap, char* err, size_t err_len) {
  try {
    auto d = std::make_unique<HostDevice>();
    d->cpu = make_cpu_backend(n_threads);
    d->cap = memory_cap;
    return reinterpret_cast<sovren_cuda_backend*>(d.release());
  } catch (const std::exception& e) {
    if (err != nullptr && err_len > 0) std::snprintf(err, err_len, "host device: %s", e.what());
    return nullptr;
  }
}

}  // namespace sovren
