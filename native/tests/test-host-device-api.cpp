// The host emulation of the CUDA plugin ABI (backend/host-device-api.h) that the CPU-only tests run the device
// forward pass on: its memory cap and accounting, and the pointer-range checks that turn a forward-pass bug into a
// clear error instead of a silent overrun.
#include <cstring>
#include <string>
#include <vector>

#include "backend/host-device-api.h"
#include "tensor/tensor-type.h"

#include "test-check.h"

using namespace sovren;

namespace {

const sovren_cuda_api& api() { return host_device_api(); }

void test_table() {
  check(api().abi_version == SOVREN_CUDA_ABI_VERSION, "the table has this build's ABI version");
  check(api().device_count() == 1, "the host device counts as one device");
  char err[128] = {};
  sovren_cuda_backend* h = api().create(0, err, sizeof err);
  check(h != nullptr, std::string("create works: ") + err);
  api().destroy(h);
}

void test_memory_cap_and_accounting() {
  char err[128] = {};
  sovren_cuda_backend* h = create_host_device(1, 1000, err, sizeof err);
  uint64_t used = 0, total = 0;
  check(api().device_bytes(h, &used, &total) == 0 && used == 0 && total == 1000, "a fresh device uses nothing");
  void* a = nullptr;
  void* b = nullptr;
  check(api().alloc(h, 600, &a) == 0 && a != nullptr, "600 bytes fit under a 1000-byte cap");
  check(api().alloc(h, 600, &b) != 0 && b == nullptr, "600 more do not");
  check(std::string(api().last_error(h)).find("out of memory") != std::string::npos,
        std::string("the failure says out of memory: ") + api().last_error(h));
  api().device_bytes(h, &used, &total);
  check(used == 600, "a failed allocation takes nothing");
  check(api().free(h, a) == 0 && api().alloc(h, 900, &b) == 0, "freed bytes can be allocated again");
  check(api().free(h, a) != 0, "a pointer freed twice is an error");
  api().destroy(h);  // frees what is still allocated (b): ASan would report a leak otherwise
}

void test_range_checks() {
  char err[128] = {};
  sovren_cuda_backend* h = create_host_device(1, 0, err, sizeof err);
  void* buf = nullptr;
  api().alloc(h, 64, &buf);
  std::vector<uint8_t> host(128, 1);
  check(api().upload(h, buf, host.data(), 64) == 0, "an upload that fits works");
  check(api().upload(h, static_cast<uint8_t*>(buf) + 8, host.data(), 64) != 0, "an upload past the end fails");
  check(std::string(api().last_error(h)).find("past the end") != std::string::npos,
        std::string("and says so: ") + api().last_error(h));
  check(api().download(h, host.data(), host.data(), 4) != 0, "a host pointer is not device memory");
  check(api().copy(h, buf, static_cast<uint8_t*>(buf) + 32, 32) == 0, "a copy inside one allocation works");

  // get_rows takes the row count from the allocation: an id past it is an error, not a read past the end.
  const int cols = 32;
  std::vector<float> w(4 * cols);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i);
  void* dw = nullptr;
  void* out = nullptr;
  void* ids = nullptr;
  api().alloc(h, w.size() * sizeof(float), &dw);
  api().alloc(h, cols * sizeof(float), &out);
  api().alloc(h, sizeof(int32_t), &ids);
  api().upload(h, dw, w.data(), w.size() * sizeof(float));
  for (const int32_t id : {3, 4}) {
    api().upload(h, ids, &id, sizeof id);
    const int rc = api().get_rows(h, static_cast<uint32_t>(TensorType::F32), dw, cols, static_cast<int32_t*>(ids), 1,
                                  static_cast<float*>(out));
    check((rc == 0) == (id == 3), "get_rows of row " + std::to_string(id) + " of 4");
  }
  std::vector<float> row(cols);
  api().download(h, row.data(), out, cols * sizeof(float));
  check(row[0] == 3.0f * cols && row[cols - 1] == 4.0f * cols - 1, "get_rows copied row 3");
  api().destroy(h);
}

}  // namespace

int main() {
  return run_suites({{"table", test_table},
                     {"memory cap and accounting", test_memory_cap_and_accounting},
                     {"range checks", test_range_checks}});
}
