// Whisper transcription on a WhisperModel (openai/whisper decoding.py): language detection, the start-of-transcript
// sequence, greedy decoding (or sampling at a temperature) with the usual suppression (blank at the start, special
// tokens, non-speech symbols) and timestamp rules, segments, and the statistics Whisper's temperature fallback reads.
// Several utterances are decoded together: one encoder pass and one decoder step per token for all of them.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "whisper/whisper-model.h"

namespace sovren {

// Whisper's language codes in token order (99 languages; large-v3 adds "yue" as the 100th).
const std::vector<std::string>& whisper_language_codes();

struct WhisperDecodeOptions {
  std::string language;  // ISO code ("en", "de", ...); empty: detect (multilingual models) / English (English-only)
  bool translate = false;
  bool timestamps = false;
  float temperature = 0.0f;  // 0: greedy
  int beam_size = 1;         // > 1: beam search of this width (Whisper's BeamSearchDecoder, patience 1)
  uint64_t seed = 0;
  int max_tokens = 0;           // 0: n_text_ctx / 2 (Whisper's sample_len)
  int audio_ctx = 0;            // 0: the model's n_audio_ctx (30 s); smaller: reduced window (2 * audio_ctx frames)
  std::vector<int32_t> prompt;  // previous-text tokens (after <|startofprev|>), at most n_text_ctx / 2 - 1 kept
  const std::atomic<bool>* cancel = nullptr;  // checked before each decoder step
};

struct WhisperSegment {
  double start = 0.0, end = 0.0;  // seconds
  std::string text;
  std::vector<int32_t> tokens;
};

struct WhisperDecodeResult {
  std::vector<int32_t> tokens;  // sampled tokens (after the start-of-transcript sequence), end of text excluded
  std::string text;             // concatenated bytes of the regular tokens
  std::string language;
  double avg_logprob = 0.0;  // sum of the sampled tokens' log-probabilities (end of text included) / (count + 1)
  double no_speech_prob = 0.0;
  std::vector<WhisperSegment> segments;
  bool cancelled = false;
  double mel_ms = 0.0, encode_ms = 0.0, decode_ms = 0.0;
};

struct WhisperAudio {
  const float* pcm = nullptr;
  size_t n = 0;
};

// Transcribes each utterance with its own options (all must use the same audio_ctx) in one batch.
std::vector<WhisperDecodeResult> whisper_transcribe(const WhisperModel& model, const std::vector<WhisperAudio>& audio,
                                                    const std::vector<WhisperDecodeOptions>& options);

// The tokens Whisper never samples: special tokens other than end of text / timestamps, and non-speech symbols
// (found as single tokens of the model's vocabulary, bare or after a space).
std::vector<int32_t> whisper_suppressed_tokens(const WhisperModel& model);

// Concatenated bytes of the regular tokens among ids (special and timestamp tokens contribute nothing).
std::string whisper_token_bytes(const WhisperModel& model, const std::vector<int32_t>& ids);

}  // namespace sovren
