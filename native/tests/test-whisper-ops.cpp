// The Backend ops Whisper added (layer_norm, gelu, conv1d_k3) against plain double-precision loops, on every CPU
// instruction set this machine has; Whisper's special-token layout per n_vocab; the log-mel of silence.
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "cpu/cpu-backend.h"
#include "cpu/fp16.h"
#include "test-check.h"
#include "whisper/whisper-mel.h"
#include "whisper/whisper-model.h"

using namespace sovren;

namespace {

std::vector<float> random_values(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

void ops_on(CpuIsa isa) {
  const std::string tag = std::string(" (") + std::string(cpu_isa_name(isa)) + ")";
  auto be = make_cpu_backend_with_isa(2, isa);

  // layer_norm, in place and out of place.
  const int rows = 5, dim = 48;
  const auto x = random_values(rows * dim, 1, 3.0f);
  const auto w = random_values(dim, 2);
  const auto b = random_values(dim, 3);
  std::vector<double> expect(x.size());
  for (int r = 0; r < rows; ++r) {
    double mean = 0.0, var = 0.0;
    for (int i = 0; i < dim; ++i) mean += x[r * dim + i];
    mean /= dim;
    for (int i = 0; i < dim; ++i) var += (x[r * dim + i] - mean) * (x[r * dim + i] - mean);
    const double inv = 1.0 / std::sqrt(var / dim + 1e-5);
    for (int i = 0; i < dim; ++i) expect[r * dim + i] = (x[r * dim + i] - mean) * inv * w[i] + b[i];
  }
  std::vector<float> out(x.size());
  be->layer_norm(x.data(), w.data(), b.data(), rows, dim, 1e-5f, out.data());
  check(max_abs_diff(out, expect) < 1e-5, "layer_norm matches the double loop" + tag);
  std::vector<float> in_place = x;
  be->layer_norm(in_place.data(), w.data(), b.data(), rows, dim, 1e-5f, in_place.data());
  check(max_abs_diff(in_place, expect) < 1e-5, "layer_norm in place" + tag);

  // gelu: exact erf form (the tanh approximation differs by up to ~1e-3 around |x| = 2).
  auto g = random_values(40000, 4, 6.0f);  // large enough for the threaded path
  std::vector<double> g_expect(g.size());
  for (size_t i = 0; i < g.size(); ++i) g_expect[i] = 0.5 * g[i] * (1.0 + std::erf(g[i] / std::sqrt(2.0)));
  be->gelu(g.data(), g.size());
  check(max_abs_diff(g, g_expect) < 1e-5, "gelu is the erf GELU" + tag);

  // conv1d_k3 with F32 and F16 weights, stride 1 and 2, odd and even frame counts.
  for (TensorType type : {TensorType::F32, TensorType::F16}) {
    for (int stride : {1, 2}) {
      for (int frames : {7, 8}) {
        const int in_ch = 5, out_ch = 6;
        const auto weights = random_values(out_ch * in_ch * 3, 5);
        const auto input = random_values(frames * in_ch, 6);
        std::vector<uint8_t> bytes;
        std::vector<float> used(weights);
        if (type == TensorType::F32) {
          bytes.resize(weights.size() * 4);
          std::memcpy(bytes.data(), weights.data(), bytes.size());
        } else {
          bytes.resize(weights.size() * 2);
          for (size_t i = 0; i < weights.size(); ++i) {
            const uint16_t h = fp32_to_fp16(weights[i]);
            std::memcpy(bytes.data() + 2 * i, &h, 2);
            used[i] = fp16_to_fp32(h);
          }
        }
        const WeightView view{type, out_ch, in_ch * 3, bytes.data()};
        const int n_out = (frames - 1) / stride + 1;
        std::vector<double> c_expect(static_cast<size_t>(n_out) * out_ch, 0.0);
        for (int t = 0; t < n_out; ++t) {
          for (int o = 0; o < out_ch; ++o) {
            for (int k = 0; k < 3; ++k) {
              const int src = t * stride + k - 1;
              if (src < 0 || src >= frames) continue;
              for (int c = 0; c < in_ch; ++c) {
                c_expect[t * out_ch + o] += static_cast<double>(used[(o * in_ch + c) * 3 + k]) * input[src * in_ch + c];
              }
            }
          }
        }
        std::vector<float> c_out(c_expect.size());
        be->conv1d_k3(view, input.data(), frames, in_ch, stride, c_out.data());
        check(max_abs_diff(c_out, c_expect) < 1e-5, "conv1d_k3 " + std::string(tensor_type_name(type)) + " stride " +
                                                        std::to_string(stride) + " frames " + std::to_string(frames) +
                                                        tag);
      }
    }
  }
  bool refused = false;
  try {
    const std::vector<float> dummy(30);
    be->conv1d_k3(WeightView{TensorType::F32, 2, 7, reinterpret_cast<const uint8_t*>(dummy.data())}, dummy.data(), 4, 3,
                  1, std::vector<float>(8).data());
  } catch (const EngineError&) {
    refused = true;
  }
  check(refused, "conv1d_k3 refuses a weight whose columns are not in_ch * 3" + tag);
}

void backend_ops() {
  for (CpuIsa isa : {CpuIsa::Scalar, CpuIsa::Avx2, CpuIsa::Avx512}) {
    if (cpu_isa_supported(isa)) ops_on(isa);
  }
}

void special_tokens() {
  const auto en = whisper_special_tokens(51864);
  check(!en.multilingual && en.eot == 50256 && en.sot == 50257 && en.no_timestamps == 50362 &&
            en.timestamp_begin == 50363 && en.timestamp_begin + 1501 == 51864,
        "English-only layout (51864)");
  const auto multi = whisper_special_tokens(51865);
  check(multi.multilingual && multi.eot == 50257 && multi.sot == 50258 && multi.first_language == 50259 &&
            multi.n_languages == 99 && multi.translate == 50358 && multi.transcribe == 50359 && multi.nosp == 50362 &&
            multi.no_timestamps == 50363 && multi.timestamp_begin == 50364,
        "multilingual layout (51865)");
  const auto v3 = whisper_special_tokens(51866);
  check(v3.n_languages == 100 && v3.translate == 50359 && v3.timestamp_begin == 50365 &&
            v3.timestamp_begin + 1501 == 51866,
        "large-v3 layout (51866: 100 languages)");
  bool refused = false;
  try {
    whisper_special_tokens(1000);
  } catch (const EngineError&) {
    refused = true;
  }
  check(refused, "an n_vocab too small for the special tokens is an error");
}

void silence() {
  std::vector<float> filters(4 * 201, 0.0f);
  for (int m = 0; m < 4; ++m) filters[m * 201 + 10 + m] = 1.0f;
  const std::vector<float> pcm(16000, 0.0f);
  const auto mel = whisper_log_mel(pcm.data(), pcm.size(), filters, 4, 100);
  bool all = mel.size() == 400;
  for (float v : mel) all = all && v == -1.5f;
  check(all, "silence is (log10(1e-10) + 4) / 4 = -1.5 everywhere");
  bool refused = false;
  try {
    const std::vector<float> long_audio(30 * 16000 + 1, 0.0f);
    whisper_log_mel(long_audio.data(), long_audio.size(), filters, 4, 100);
  } catch (const EngineError&) {
    refused = true;
  }
  check(refused, "audio longer than 30 s is refused");
}

}  // namespace

int main() {
  return run_suites({{"backend ops", backend_ops}, {"special tokens", special_tokens}, {"silence", silence}});
}
