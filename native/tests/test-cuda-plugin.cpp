// Tests of the CUDA plugin loader and the SOVREN_ENGINE_BACKEND choice, on any machine: the CPU is chosen whenever the
// device path cannot run, an explicit cuda request without it is a clear error, a missing plugin is reported by path.
#include <cstdio>
#include <string>

#include "backend/cuda-plugin-loader.h"
#include "core/error.h"

#include "test-check.h"

using namespace sovren;

namespace {

void test_parse_backend_request() {
  check(parse_backend_request(nullptr) == BackendRequest::Auto, "unset SOVREN_ENGINE_BACKEND means auto");
  check(parse_backend_request("") == BackendRequest::Auto, "empty SOVREN_ENGINE_BACKEND means auto");
  check(parse_backend_request("cpu") == BackendRequest::Cpu, "cpu is parsed");
  check(parse_backend_request("cuda") == BackendRequest::Cuda, "cuda is parsed");
  check(parse_backend_request("auto") == BackendRequest::Auto, "auto is parsed");
  try {
    parse_backend_request("gpu");
    check(false, "an unknown backend name is rejected");
  } catch (const EngineError& e) {
    check(std::string(e.what()).find("SOVREN_ENGINE_BACKEND") != std::string::npos,
          "the error for an unknown backend names the variable");
  }
}

void test_missing_plugin_is_reported_by_path() {
  std::string why;
  const auto plugin = CudaPlugin::load_from("/nonexistent/libsovren-cuda.so", &why);
  check(plugin == nullptr, "a missing plugin file does not load");
  check(why.find("/nonexistent/libsovren-cuda.so") != std::string::npos, "the reason names the path: " + why);
}

void test_backend_choice() {
  std::string reason;
  check(choose_backend(BackendRequest::Cpu, &reason) == BackendKind::Cpu, "cpu request gives the CPU backend");
  check(choose_backend(BackendRequest::Auto, &reason) == BackendKind::Cpu && !reason.empty(),
        "auto falls back to the CPU with a reason: " + reason);
  try {
    choose_backend(BackendRequest::Cuda, &reason);
    check(false, "cuda request without a runnable device path throws");
  } catch (const EngineError& e) {
    check(std::string(e.what()).rfind("SOVREN_ENGINE_BACKEND=cuda: ", 0) == 0,
          std::string("cuda request fails with a clear error: ") + e.what());
  }
}

// With a plugin built (SOVREN_CUDA=ON) it must load, carry our ABI version and count devices without failing.
void test_built_plugin_loads() {
  std::string why;
  const auto plugin = CudaPlugin::load(&why);
  if (plugin == nullptr) {
    std::printf("SKIP built plugin: %s\n", why.c_str());
    return;
  }
  check(plugin->api().abi_version == SOVREN_CUDA_ABI_VERSION, "the plugin has this build's ABI version");
  const int n = plugin->device_count();
  check(n >= 0, "device_count never fails");
  if (n == 0) {
    char err[256] = {};
    sovren_cuda_backend* b = plugin->api().create(0, err, sizeof err);
    check(b == nullptr && err[0] != '\0', std::string("create without a GPU fails with a message: ") + err);
  }
}

}  // namespace

int main() {
  return run_suites({{"parse", test_parse_backend_request},
                     {"missing plugin", test_missing_plugin_is_reported_by_path},
                     {"backend choice", test_backend_choice},
                     {"built plugin", test_built_plugin_loads}});
}
