// Tests of HugePageBuffer: copies are byte-exact (with and without a thread pool), moves transfer ownership,
// empty buffers are valid.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "core/error.h"
#include "cpu/huge-page-buffer.h"
#include "cpu/thread-pool.h"

#include "test-check.h"

using namespace sovren;

namespace {}  // namespace

int main() {
  try {
    std::vector<uint8_t> src((size_t{5} << 20) + 12345);  // more than two huge pages, not a multiple of one
    for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 131 + (i >> 13));
    ThreadPool pool(3);
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      HugePageBuffer copy = HugePageBuffer::copy_of(src.data(), src.size(), p);
      check(copy.size() == src.size() && std::equal(src.begin(), src.end(), copy.data()),
            std::string("copy_of is byte-exact ") + (p ? "with a pool" : "without a pool"));
      const uint8_t* before = copy.data();
      HugePageBuffer moved = std::move(copy);
      check(moved.data() == before && copy.data() == nullptr && copy.size() == 0, "a move transfers the mapping");
    }
    HugePageBuffer empty(0);
    check(empty.data() == nullptr && empty.size() == 0, "an empty buffer maps nothing");
  } catch (const EngineError& e) {
    std::printf("FAIL: unexpected exception: %s\n", e.what());
    ++g_failed;
  }
  std::printf("test-cpu-huge-page-buffer: %d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
