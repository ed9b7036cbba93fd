// HugePageBuffer: mmap(MAP_ANONYMOUS) + madvise(MADV_HUGEPAGE), unmapped by the destructor.
#include "cpu/huge-page-buffer.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "core/error.h"
#include "cpu/thread-pool.h"

namespace sovren {
namespace {
constexpr size_t kHugePage = size_t{2} << 20;
}  // namespace

HugePageBuffer::HugePageBuffer(size_t bytes) : size_(bytes) {
  if (bytes == 0) return;
  if (bytes > (size_t{1} << 46)) throw EngineError("HugePageBuffer: " + std::to_string(bytes) + " bytes is too large");
  mapped_ = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* p = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    mapped_ = size_ = 0;
    throw EngineError("HugePageBuffer: cannot map " + std::to_string(bytes) + " bytes: " + std::strerror(err));
  }
  data_ = static_cast<uint8_t*>(p);
  // Best effort: without transparent huge pages the buffer still works with 4 KiB pages.
  (void)madvise(p, mapped_, MADV_HUGEPAGE);
}

HugePageBuffer::~HugePageBuffer() { release(); }

HugePageBuffer::HugePageBuffer(HugePageBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, 0)) {}

HugePageBuffer& HugePageBuffer::operator=(HugePageBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
  }
  return *this;
}

void HugePageBuffer::release() {
  if (data_ != nullptr) munmap(data_, mapped_);
  data_ = nullptr;
  size_ = mapped_ = 0;
}

HugePageBuffer HugePageBuffer::copy_of(const uint8_t* src, size_t bytes, ThreadPool* pool) {
  HugePageBuffer buffer(bytes);
  if (bytes == 0) return buffer;
  if (src == nullptr) throw EngineError("HugePageBuffer::copy_of: null source");
  uint8_t* dst = buffer.data();
  const auto n_chunks = static_cast<int64_t>((bytes + kHugePage - 1) / kHugePage);
  const auto copy_chunks = [&](int64_t begin, int64_t end, int) {
    for (int64_t c = begin; c < end; ++c) {
      const size_t offset = static_cast<size_t>(c) * kHugePage;
      std::memcpy(dst + offset, src + offset, std::min(kHugePage, bytes - offset));
    }
  };
  if (pool != nullptr) {
    pool->parallel_for(n_chunks, copy_chunks);
  } else {
    copy_chunks(0, n_chunks, 0);
  }
  return buffer;
}

}  // namespace sovren
