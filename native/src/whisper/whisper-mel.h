// Whisper's log-mel front end exactly as openai/whisper audio.py computes it: 16 kHz mono, 30 s of zeros appended,
// STFT with centre reflect padding (200 samples each side), 400-sample periodic Hann window, hop 160, 400-point DFT,
// power |X|^2 of the 201 bins, last frame dropped, the model's mel filters, log10 with floor 1e-10, clamp below at
// (global max - 8), then (x + 4) / 4.
#pragma once
#include <cstddef>
#include <vector>

namespace sovren {

constexpr int kWhisperSampleRate = 16000;
constexpr int kWhisperHop = 160;
constexpr int kWhisperFft = 400;
constexpr int kWhisperWindowSamples = 30 * kWhisperSampleRate;             // 480 000
constexpr int kWhisperWindowFrames = kWhisperWindowSamples / kWhisperHop;  // 3000

// The first 30 s window of the log-mel spectrogram of pcm[0..n) (n <= 30 s): time-major [n_frames][n_mels] with
// n_frames <= 3000 (frames past n_frames are not computed; the global max still covers every frame). filters is
// [n_mels][201] row-major.
std::vector<float> whisper_log_mel(const float* pcm, size_t n, const std::vector<float>& filters, int n_mels,
                                   int n_frames = kWhisperWindowFrames);

}  // namespace sovren
