// Log-mel front end (see whisper-mel.h). The 400-point transform is a direct real DFT over precomputed twiddles
// (400 is not a power of two); frames that only see zeros are skipped (their power is 0 in every bin).
#include "whisper/whisper-mel.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "core/error.h"
#include "whisper/whisper-file.h"

namespace sovren {
namespace {

struct Twiddles {
  std::vector<double> window;  // periodic Hann, kWhisperFft
  std::vector<double> cos;     // [201][400]
  std::vector<double> sin;     // [201][400]
  Twiddles() : window(kWhisperFft), cos(kWhisperFftBins * kWhisperFft), sin(kWhisperFftBins * kWhisperFft) {
    for (int i = 0; i < kWhisperFft; ++i) window[i] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * i / kWhisperFft);
    for (int k = 0; k < kWhisperFftBins; ++k) {
      for (int i = 0; i < kWhisperFft; ++i) {
        const double angle = 2.0 * std::numbers::pi * ((static_cast<int64_t>(k) * i) % kWhisperFft) / kWhisperFft;
        cos[k * kWhisperFft + i] = std::cos(angle);
        sin[k * kWhisperFft + i] = std::sin(angle);
      }
    }
  }
};

const Twiddles& twiddles() {
  static const Twiddles t;
  return t;
}

}  // namespace

std::vector<float> whisper_log_mel(const float* pcm, size_t n, const std::vector<float>& filters, int n_mels,
                                   int n_frames) {
  if (n > static_cast<size_t>(kWhisperWindowSamples)) {
    throw EngineError("whisper: audio of " + std::to_string(n) + " samples is longer than 30 s");
  }
  if (n > 0 && pcm == nullptr) throw EngineError("whisper: null audio buffer");
  if (n_mels < 1 || filters.size() != static_cast<size_t>(n_mels) * kWhisperFftBins) {
    throw EngineError("whisper: mel filter bank does not have n_mels x 201 weights");
  }
  if (n_frames < 0 || n_frames > kWhisperWindowFrames) throw EngineError("whisper: bad mel frame count");
  const Twiddles& tw = twiddles();
  const int64_t total = static_cast<int64_t>(n) + kWhisperWindowSamples;
  const int64_t pad = kWhisperFft / 2;
  const auto padded = [&](int64_t j) -> double {
    int64_t i = j - pad;
    if (i < 0) i = -i;
    if (i >= total) i = 2 * (total - 1) - i;
    return i < static_cast<int64_t>(n) ? pcm[i] : 0.0;
  };
  constexpr double kLogFloor = -10.0;  // log10(1e-10)
  std::vector<float> out(static_cast<size_t>(n_frames) * n_mels, static_cast<float>(kLogFloor));
  // Frames starting at or after this one see only zeros (centre padding reaches back 200 samples).
  const int64_t last_audio_frame = n == 0 ? -1 : (static_cast<int64_t>(n) - 1 + pad) / kWhisperHop;
  const int64_t total_frames = total / kWhisperHop;  // 1 + total / hop frames, the last dropped
  double global_max = total_frames > last_audio_frame + 1 ? kLogFloor : -1e300;
  std::vector<double> frame(kWhisperFft);
  std::vector<double> power(kWhisperFftBins);
  for (int64_t f = 0; f <= last_audio_frame && f < total_frames; ++f) {
    bool any = false;
    for (int i = 0; i < kWhisperFft; ++i) {
      frame[i] = padded(f * kWhisperHop + i) * tw.window[i];
      any = any || frame[i] != 0.0;
    }
    if (!any) {
      global_max = std::max(global_max, kLogFloor);
      continue;
    }
    for (int k = 0; k < kWhisperFftBins; ++k) {
      const double* c = tw.cos.data() + k * kWhisperFft;
      const double* s = tw.sin.data() + k * kWhisperFft;
      double re = 0.0, im = 0.0;
      for (int i = 0; i < kWhisperFft; ++i) {
        re += frame[i] * c[i];
        im += frame[i] * s[i];
      }
      power[k] = re * re + im * im;
    }
    for (int m = 0; m < n_mels; ++m) {
      const float* fm = filters.data() + static_cast<size_t>(m) * kWhisperFftBins;
      double sum = 0.0;
      for (int k = 0; k < kWhisperFftBins; ++k) sum += fm[k] * power[k];
      const double v = std::log10(std::max(sum, 1e-10));
      global_max = std::max(global_max, v);
      if (f < n_frames) out[static_cast<size_t>(f) * n_mels + m] = static_cast<float>(v);
    }
  }
  const double floor = global_max - 8.0;
  for (float& v : out) v = static_cast<float>((std::max(static_cast<double>(v), floor) + 4.0) / 4.0);
  return out;
}

}  // namespace sovren
