// Whisper transcription (see whisper-decode.h).
#include "whisper/whisper-decode.h"

#include "whisper/whisper-mel.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>

namespace sovren {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr double kSecondsPerTimestamp = 0.02;
constexpr int kMaxInitialTimestamp = 50;  // 1.0 s, as Whisper's max_initial_timestamp

double log_sum_exp(const float* x, int n) {
  float max = kNegInf;
  for (int i = 0; i < n; ++i) max = std::max(max, x[i]);
  if (max == kNegInf) return -std::numeric_limits<double>::infinity();
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += std::exp(static_cast<double>(x[i]) - max);
  return max + std::log(sum);
}

// One utterance being decoded.
struct Job {
  const WhisperDecodeOptions* options = nullptr;
  std::unique_ptr<WhisperDecoderState> state;
  std::vector<int32_t> initial;  // start-of-transcript sequence (with the previous-text prompt)
  int sot_row = 0;               // row of <|startoftranscript|> in `initial` (its logits give no_speech_prob)
  int32_t language_token = -1;
  std::vector<int32_t> sampled;
  double sum_logprob = 0.0;
  bool done = false;
  std::mt19937_64 rng;
  WhisperDecodeResult result;
};

// Whisper's logit filters on one row: suppressed tokens, blank and end of text at the start, timestamp rules.
void filter_logits(float* row, const std::vector<int32_t>& seq_in, bool timestamps,
                   const std::vector<int32_t>& suppressed, int32_t blank, const WhisperSpecialTokens& sp, int n_vocab) {
  // Suppression.
  for (int32_t id : suppressed) row[id] = kNegInf;
  if (seq_in.empty()) {
    row[sp.eot] = kNegInf;
    if (blank >= 0) row[blank] = kNegInf;
  }
  const int n_ts = n_vocab - sp.timestamp_begin;
  if (!timestamps) {
    std::fill(row + sp.timestamp_begin, row + n_vocab, kNegInf);
  } else {
    // Whisper's ApplyTimestampRules.
    const auto& seq = seq_in;
    const bool last_ts = !seq.empty() && seq.back() >= sp.timestamp_begin;
    const bool penultimate_ts = seq.size() < 2 || seq[seq.size() - 2] >= sp.timestamp_begin;
    if (last_ts) {
      if (penultimate_ts) {
        std::fill(row + sp.timestamp_begin, row + n_vocab, kNegInf);
      } else {
        std::fill(row, row + sp.eot, kNegInf);
      }
    }
    int32_t last_timestamp = -1;
    for (int32_t id : seq) {
      if (id >= sp.timestamp_begin) last_timestamp = id;
    }
    if (last_timestamp >= 0) {
      const int32_t bound = last_ts && !penultimate_ts ? last_timestamp : last_timestamp + 1;
      std::fill(row + sp.timestamp_begin, row + std::min<int32_t>(bound, n_vocab), kNegInf);
    }
    if (seq.empty()) {
      std::fill(row, row + sp.timestamp_begin, kNegInf);
      const int32_t last_allowed = sp.timestamp_begin + kMaxInitialTimestamp;
      if (last_allowed + 1 < n_vocab) std::fill(row + last_allowed + 1, row + n_vocab, kNegInf);
    }
    const double lse = log_sum_exp(row, n_vocab);
    const double ts_logprob = log_sum_exp(row + sp.timestamp_begin, n_ts) - lse;
    const float max_text = *std::max_element(row, row + sp.timestamp_begin);
    if (ts_logprob > static_cast<double>(max_text) - lse) std::fill(row, row + sp.timestamp_begin, kNegInf);
  }
}

// Whisper's BeamSearchDecoder for one utterance (patience 1, no length penalty): each step, every beam proposes its
// beam_size + 1 most likely next tokens; the beam_size best unfinished sequences by summed log-probability go on
// (their KV caches copied from their source beam), those ending in end of text are set aside, until beam_size have
// ended. The winner has the best summed log-probability / length.
void beam_search(const WhisperModel& model, Job& job, const std::vector<int32_t>& suppressed, int32_t blank) {
  const WhisperHParams& hp = model.hparams();
  const WhisperSpecialTokens& sp = model.special();
  const int width = job.options->beam_size;
  const int limit = job.options->max_tokens > 0 ? job.options->max_tokens : hp.n_text_ctx / 2;
  struct Beam {
    std::unique_ptr<WhisperDecoderState> state;
    std::vector<int32_t> seq;
    double sum = 0.0;
  };
  std::vector<Beam> beams;
  beams.push_back(Beam{std::move(job.state), {}, 0.0});
  std::vector<float> logits = model.decode({beams[0].state.get()}, {job.initial}, true);
  {
    const float* sot_row = logits.data() + static_cast<size_t>(job.sot_row) * hp.n_vocab;
    job.result.no_speech_prob = std::exp(sot_row[sp.nosp] - log_sum_exp(sot_row, hp.n_vocab));
    logits.erase(logits.begin(), logits.end() - hp.n_vocab);  // the last row only
  }
  std::vector<std::pair<std::vector<int32_t>, double>> finished;
  std::vector<int32_t> order(static_cast<size_t>(hp.n_vocab));
  for (int step = 0; step < limit; ++step) {
    if (job.options->cancel != nullptr && job.options->cancel->load()) {
      job.result.cancelled = true;
      break;
    }
    struct Candidate {
      std::vector<int32_t> seq;
      double score;
      size_t source;
    };
    std::vector<Candidate> candidates;
    for (size_t b = 0; b < beams.size(); ++b) {
      float* row = logits.data() + b * hp.n_vocab;
      filter_logits(row, beams[b].seq, job.options->timestamps, suppressed, blank, sp, hp.n_vocab);
      const double lse = log_sum_exp(row, hp.n_vocab);
      for (int i = 0; i < hp.n_vocab; ++i) order[i] = i;
      const int k = std::min(width + 1, hp.n_vocab);
      std::partial_sort(order.begin(), order.begin() + k, order.end(),
                        [&](int32_t a, int32_t c) { return row[a] > row[c] || (row[a] == row[c] && a < c); });
      for (int j = 0; j < k; ++j) {
        if (row[order[j]] == kNegInf) break;
        std::vector<int32_t> seq = beams[b].seq;
        seq.push_back(order[j]);
        candidates.push_back(Candidate{std::move(seq), beams[b].sum + (row[order[j]] - lse), b});
      }
    }
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const Candidate& a, const Candidate& c) { return a.score > c.score; });
    std::vector<Beam> next;
    for (Candidate& c : candidates) {
      if (c.seq.back() == sp.eot) {
        c.seq.pop_back();
        finished.emplace_back(std::move(c.seq), c.score);
        continue;
      }
      next.push_back(Beam{std::make_unique<WhisperDecoderState>(*beams[c.source].state), std::move(c.seq), c.score});
      if (static_cast<int>(next.size()) == width) break;
    }
    beams = std::move(next);
    if (static_cast<int>(finished.size()) >= width || beams.empty()) break;
    if (beams[0].state->n_past() + 1 > hp.n_text_ctx) break;
    std::vector<WhisperDecoderState*> states;
    std::vector<std::vector<int32_t>> feed;
    for (Beam& b : beams) {
      states.push_back(b.state.get());
      feed.push_back({b.seq.back()});
    }
    logits = model.decode(states, feed, false);
  }
  if (static_cast<int>(finished.size()) < width) {
    for (Beam& b : beams) finished.emplace_back(b.seq, b.sum);
  }
  double best = -std::numeric_limits<double>::infinity();
  for (auto& [seq, sum] : finished) {
    const double score = sum / static_cast<double>(std::max<size_t>(1, seq.size()));
    if (score > best) {
      best = score;
      job.sampled = seq;
      job.sum_logprob = sum;
    }
  }
  job.done = true;
}
}  // namespace

const std::vector<std::string>& whisper_language_codes() {
  static const std::vector<std::string> kCodes = {
      "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt",  "tr", "pl", "ca", "nl", "ar", "sv", "it", "id",
      "hi", "fi", "vi", "he", "uk", "el", "ms", "cs", "ro",  "da", "hu", "ta", "no", "th", "ur", "hr", "bg",
      "lt", "la", "mi", "ml", "cy", "sk", "te", "fa", "lv",  "bn", "sr", "az", "sl", "kn", "et", "mk", "br",
      "eu", "is", "hy", "ne", "mn", "bs", "kk", "sq", "sw",  "gl", "mr", "pa", "si", "km", "sn", "yo", "so",
      "af", "oc", "ka", "be", "tg", "sd", "gu", "am", "yi",  "lo", "uz", "fo", "ht", "ps", "tk", "nn", "mt",
      "sa", "lb", "my", "bo", "tl", "mg", "as", "tt", "haw", "ln", "ha", "ba", "jw", "su", "yue"};
  return kCodes;
}

std::vector<int32_t> whisper_suppressed_tokens(const WhisperModel& model) {
  const WhisperSpecialTokens& sp = model.special();
  std::vector<int32_t> ids;
  for (int32_t id = sp.sot; id < sp.timestamp_begin; ++id) ids.push_back(id);  // sot .. no_timestamps
  // Whisper's non_speech_tokens: these symbols, bare or after a space, where they are one token.
  static const char* const kSymbols[] = {"\"",  "#",  "(",  ")",   "*",   "+",   "/",   ":",  ";",   "<",  "=",   ">",
                                         "@",   "[",  "\\", "]",   "^",   "_",   "`",   "{",  "|",   "}",  "~",   "「",
                                         "」",  "『", "』", "<<",  ">>",  "<<<", ">>>", "--", "---", "-(", "-[",  "('",
                                         "(\"", "((", "))", "(((", ")))", "[[",  "]]",  "{{", "}}",  "♪♪", "♪♪♪", "♩",
                                         "♪",   "♫",  "♬",  "♭",   "♮",   "♯",   " -",  " '"};
  const auto& vocab = model.file().vocab();
  for (int32_t id = 0; id < static_cast<int32_t>(vocab.size()) && id < sp.n_regular; ++id) {
    for (const char* s : kSymbols) {
      const std::string_view sym(s);
      const std::string_view tok = vocab[id];
      const bool spaced = tok.size() == sym.size() + 1 && tok[0] == ' ' && tok.substr(1) == sym && sym[0] != ' ';
      if (tok == sym || spaced) {
        ids.push_back(id);
        break;
      }
    }
  }
  return ids;
}

std::string whisper_token_bytes(const WhisperModel& model, const std::vector<int32_t>& ids) {
  const auto& vocab = model.file().vocab();
  std::string out;
  for (int32_t id : ids) {
    if (id >= 0 && id < model.special().n_regular && id < static_cast<int32_t>(vocab.size())) out += vocab[id];
  }
  return out;
}

std::vector<WhisperDecodeResult> whisper_transcribe(const WhisperModel& model, const std::vector<WhisperAudio>& audio,
                                                    const std::vector<WhisperDecodeOptions>& options) {
  const WhisperHParams& hp = model.hparams();
  const WhisperSpecialTokens& sp = model.special();
  if (audio.size() != options.size()) throw EngineError("whisper: one options object per utterance is needed");
  if (audio.empty()) return {};
  const int audio_ctx = options[0].audio_ctx > 0 ? options[0].audio_ctx : hp.n_audio_ctx;
  for (const auto& o : options) {
    if ((o.audio_ctx > 0 ? o.audio_ctx : hp.n_audio_ctx) != audio_ctx) {
      throw EngineError("whisper: the utterances of one batch must share audio_ctx");
    }
    if (o.temperature < 0.0f || !std::isfinite(o.temperature)) throw EngineError("whisper: bad temperature");
  }
  const auto& codes = whisper_language_codes();
  const int n_lang = std::min<int>(sp.n_languages, static_cast<int>(codes.size()));
  const size_t n_batch = audio.size();
  std::vector<Job> jobs(n_batch);

  // Front end and one encoder pass for the whole batch.
  auto t0 = Clock::now();
  std::vector<std::vector<float>> mels(n_batch);
  std::vector<const float*> mel_ptrs(n_batch);
  for (size_t i = 0; i < n_batch; ++i) {
    mels[i] = model.log_mel(audio[i].pcm, audio[i].n, audio_ctx);
    mel_ptrs[i] = mels[i].data();
  }
  const double mel_ms = ms_since(t0);
  t0 = Clock::now();
  auto encoded = model.encode(mel_ptrs, audio_ctx);
  const double encode_ms = ms_since(t0);
  t0 = Clock::now();
  for (size_t i = 0; i < n_batch; ++i) {
    Job& job = jobs[i];
    job.options = &options[i];
    job.rng.seed(options[i].seed);
    job.state = model.new_state(std::move(encoded[i]), audio_ctx);
    job.result.mel_ms = mel_ms;
    job.result.encode_ms = encode_ms;
    const std::string& lang = options[i].language;
    if (!sp.multilingual) {
      job.result.language = "en";
    } else if (!lang.empty()) {
      const auto it = std::find(codes.begin(), codes.begin() + n_lang, lang);
      if (it == codes.begin() + n_lang) throw EngineError("whisper: unknown language '" + lang + "'");
      job.language_token = sp.first_language + static_cast<int32_t>(it - codes.begin());
      job.result.language = lang;
    }
  }

  // Language detection: one step over <|startoftranscript|> for every utterance that names none.
  std::vector<WhisperDecoderState*> detect_states;
  std::vector<Job*> detect_jobs;
  for (Job& job : jobs) {
    if (sp.multilingual && job.language_token < 0) {
      detect_states.push_back(job.state.get());
      detect_jobs.push_back(&job);
    }
  }
  if (!detect_states.empty()) {
    const std::vector<std::vector<int32_t>> sot(detect_states.size(), std::vector<int32_t>{sp.sot});
    const std::vector<float> logits = model.decode(detect_states, sot, false);
    for (size_t j = 0; j < detect_jobs.size(); ++j) {
      const float* row = logits.data() + j * hp.n_vocab + sp.first_language;
      const int best = static_cast<int>(std::max_element(row, row + n_lang) - row);
      detect_jobs[j]->language_token = sp.first_language + best;
      detect_jobs[j]->result.language = codes[best];
      detect_jobs[j]->state->reset();
    }
  }

  // Start-of-transcript sequences.
  const int max_prompt = hp.n_text_ctx / 2 - 1;
  for (Job& job : jobs) {
    const auto& prompt = job.options->prompt;
    if (!prompt.empty()) {
      job.initial.push_back(sp.prev);
      const size_t keep = std::min(prompt.size(), static_cast<size_t>(max_prompt));
      job.initial.insert(job.initial.end(), prompt.end() - static_cast<long>(keep), prompt.end());
    }
    job.sot_row = static_cast<int>(job.initial.size());
    job.initial.push_back(sp.sot);
    if (sp.multilingual) {
      job.initial.push_back(job.language_token);
      job.initial.push_back(job.options->translate ? sp.translate : sp.transcribe);
    }
    if (!job.options->timestamps) job.initial.push_back(sp.no_timestamps);
    for (int32_t id : job.initial) {
      if (id < 0 || id >= hp.n_vocab) throw EngineError("whisper: prompt token outside the vocabulary");
    }
  }

  const std::vector<int32_t> suppressed = whisper_suppressed_tokens(model);
  int32_t blank = -1;  // the single-space token, suppressed with end of text at the first step
  for (int32_t id = 0; id < static_cast<int32_t>(model.file().vocab().size()) && id < sp.n_regular; ++id) {
    if (model.file().vocab()[id] == " ") blank = id;
  }

  // Decoder steps: the first feeds every start-of-transcript sequence, then one token per unfinished utterance.
  std::vector<float> probs(static_cast<size_t>(hp.n_vocab));
  bool first = true;
  for (;;) {
    std::vector<Job*> active;
    for (Job& job : jobs) {
      if (job.done || job.options->beam_size > 1) continue;
      if (job.options->cancel != nullptr && job.options->cancel->load()) {
        job.done = true;
        job.result.cancelled = true;
        continue;
      }
      const int limit = job.options->max_tokens > 0 ? job.options->max_tokens : hp.n_text_ctx / 2;
      const int next_pos = job.state->n_past() + (first ? static_cast<int>(job.initial.size()) : 1);
      if (static_cast<int>(job.sampled.size()) >= limit || next_pos > hp.n_text_ctx) {
        job.done = true;
        continue;
      }
      active.push_back(&job);
    }
    if (active.empty()) break;
    std::vector<WhisperDecoderState*> states;
    std::vector<std::vector<int32_t>> feed;
    for (Job* job : active) {
      states.push_back(job->state.get());
      feed.push_back(first ? job->initial : std::vector<int32_t>{job->sampled.back()});
    }
    // The first step needs the <|startoftranscript|> row too (no-speech probability): all rows then.
    std::vector<float> logits = model.decode(states, feed, first);
    int row_base = 0;
    for (size_t a = 0; a < active.size(); ++a) {
      Job& job = *active[a];
      const int n_fed = static_cast<int>(feed[a].size());
      float* row = logits.data() + static_cast<size_t>(first ? row_base + n_fed - 1 : a) * hp.n_vocab;
      if (first) {
        const float* sot_row = logits.data() + static_cast<size_t>(row_base + job.sot_row) * hp.n_vocab;
        const double lse = log_sum_exp(sot_row, hp.n_vocab);
        job.result.no_speech_prob = std::exp(sot_row[sp.nosp] - lse);
      }
      row_base += n_fed;

      filter_logits(row, job.sampled, job.options->timestamps, suppressed, blank, sp, hp.n_vocab);

      // Greedy or a seeded draw at the temperature; log-probabilities from the (suppressed) logits.
      const double lse = log_sum_exp(row, hp.n_vocab);
      int32_t next = 0;
      const float temperature = job.options->temperature;
      if (temperature <= 0.0f) {
        next = static_cast<int32_t>(std::max_element(row, row + hp.n_vocab) - row);
      } else {
        float max = *std::max_element(row, row + hp.n_vocab);
        double sum = 0.0;
        for (int i = 0; i < hp.n_vocab; ++i) {
          probs[i] = row[i] == kNegInf ? 0.0f : std::exp((row[i] - max) / temperature);
          sum += probs[i];
        }
        double u = std::uniform_real_distribution<double>(0.0, sum)(job.rng);
        next = hp.n_vocab - 1;
        for (int i = 0; i < hp.n_vocab; ++i) {
          u -= probs[i];
          if (u < 0.0 && probs[i] > 0.0f) {
            next = i;
            break;
          }
        }
      }
      job.sum_logprob += row[next] - lse;
      if (next == sp.eot) {
        job.done = true;
      } else {
        job.sampled.push_back(next);
      }
    }
    first = false;
  }

  for (Job& job : jobs) {
    if (job.options->beam_size > 1) beam_search(model, job, suppressed, blank);
  }

  // Results: text, segments, statistics.
  std::vector<WhisperDecodeResult> results;
  results.reserve(n_batch);
  const double decode_ms = ms_since(t0);
  for (size_t i = 0; i < n_batch; ++i) {
    Job& job = jobs[i];
    WhisperDecodeResult& r = job.result;
    r.tokens = job.sampled;
    r.text = whisper_token_bytes(model, job.sampled);
    r.avg_logprob = job.sum_logprob / static_cast<double>(job.sampled.size() + 1);
    r.decode_ms = decode_ms;
    const double duration = static_cast<double>(audio[i].n) / kWhisperSampleRate;
    if (!job.options->timestamps) {
      r.segments.push_back(WhisperSegment{0.0, duration, r.text, job.sampled});
    } else {
      WhisperSegment current;
      bool open = false;
      for (int32_t id : job.sampled) {
        if (id >= sp.timestamp_begin) {
          const double t = (id - sp.timestamp_begin) * kSecondsPerTimestamp;
          if (open && !current.tokens.empty()) {
            current.end = t;
            current.text = whisper_token_bytes(model, current.tokens);
            r.segments.push_back(current);
            current = WhisperSegment{};
            open = false;
          } else {
            current.start = t;
            open = true;
          }
        } else {
          if (!open) {
            current.start = r.segments.empty() ? 0.0 : r.segments.back().end;
            open = true;
          }
          current.tokens.push_back(id);
        }
      }
      if (open && !current.tokens.empty()) {
        current.end = std::max(current.start, duration);
        current.text = whisper_token_bytes(model, current.tokens);
        r.segments.push_back(current);
      }
    }
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace sovren
