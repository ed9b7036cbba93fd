// Token sampling (see sampler.h). Filters follow llama.cpp's samplers so settings mean the same thing here.
#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/error.h"

namespace sovren {
namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void require(bool ok, const std::string& message) {
  if (!ok) throw EngineError("invalid sampling parameter: " + message);
}

}  // namespace

Xoshiro256::Xoshiro256(uint64_t seed) {
  for (uint64_t& word : state_) word = splitmix64(seed);
}

uint64_t Xoshiro256::next() {
  const uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

double Xoshiro256::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

Sampler::Sampler(const SamplingParams& params, int32_t n_vocab, std::shared_ptr<const grammar::TokenTrie> trie)
    : params_(params), n_vocab_(n_vocab), rng_(params.seed), trie_(std::move(trie)) {
  require(n_vocab > 0, "n_vocab must be positive, got " + std::to_string(n_vocab));
  require(std::isfinite(params.temperature), "temperature must be a finite number");
  require(std::isfinite(params.top_p) && params.top_p >= 0.0f && params.top_p <= 1.0f,
          "top_p must be in [0, 1], got " + std::to_string(params.top_p));
  require(std::isfinite(params.min_p) && params.min_p >= 0.0f && params.min_p <= 1.0f,
          "min_p must be in [0, 1], got " + std::to_string(params.min_p));
  require(std::isfinite(params.repeat_penalty) && params.repeat_penalty > 0.0f,
          "repeat_penalty must be a positive number, got " + std::to_string(params.repeat_penalty));
  require(params.penalty_last_n >= -1, "penalty_last_n must be -1 (whole history), 0 (off) or positive, got " +
                                           std::to_string(params.penalty_last_n));
  require(std::isfinite(params.frequency_penalty), "frequency_penalty must be a finite number");
  require(std::isfinite(params.presence_penalty), "presence_penalty must be a finite number");
  require(params.logprobs >= -1 && params.logprobs <= SamplingParams::kMaxTopLogprobs,
          "logprobs must be in 0.." + std::to_string(SamplingParams::kMaxTopLogprobs) + " (or -1: off), got " +
              std::to_string(params.logprobs));
  for (const auto& [id, bias] : params.logit_bias) {
    require(id >= 0 && id < n_vocab, "logit_bias token id " + std::to_string(id) + " is out of range (vocabulary has " +
                                         std::to_string(n_vocab) + " tokens)");
    require(std::isfinite(bias), "logit_bias of token " + std::to_string(id) + " must be a finite number");
  }
  counts_.assign(static_cast<size_t>(n_vocab), 0);
  if (!params.grammar.empty()) {
    require(trie_ != nullptr, "a grammar needs the model's vocabulary");
    require(trie_->n_vocab() == n_vocab, "the grammar's vocabulary does not match n_vocab");
    matcher_.emplace(params.grammar);  // throws GrammarError naming line and column
  }
}

bool Sampler::penalties_enabled() const {
  return params_.penalty_last_n != 0 &&
         (params_.repeat_penalty != 1.0f || params_.frequency_penalty != 0.0f || params_.presence_penalty != 0.0f);
}

void Sampler::accept(int32_t token) {
  if (token < 0 || token >= n_vocab_) {
    throw EngineError("sampler: accepted token id " + std::to_string(token) + " is out of range (n_vocab " +
                      std::to_string(n_vocab_) + ")");
  }
  if (params_.penalty_last_n == 0) return;
  history_.push_back(token);
  ++counts_[static_cast<size_t>(token)];
  if (params_.penalty_last_n > 0 && history_.size() > static_cast<size_t>(params_.penalty_last_n)) {
    --counts_[static_cast<size_t>(history_.front())];
    history_.pop_front();
  }
}

void Sampler::reset() {
  for (const int32_t token : history_) counts_[static_cast<size_t>(token)] = 0;
  history_.clear();
  rng_ = Xoshiro256(params_.seed);
  if (matcher_) matcher_->reset();
}

void Sampler::record_logprobs(const float* raw, int32_t chosen) {
  const size_t n = static_cast<size_t>(n_vocab_);
  float max_logit = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < n; ++i) max_logit = std::max(max_logit, raw[i]);
  double sum = 0.0;
  if (std::isfinite(max_logit)) {
    for (size_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(raw[i] - max_logit));
  }
  const double log_z = std::isfinite(max_logit) ? max_logit + std::log(sum) : 0.0;
  auto logprob_of = [&](int32_t id) {
    const double lp = static_cast<double>(raw[static_cast<size_t>(id)]) - log_z;
    return std::isfinite(lp) && std::isfinite(max_logit) ? static_cast<float>(lp) : kMinLogprob;
  };
  last_logprobs_.logprob = logprob_of(chosen);
  // Top-N by a bounded selection: a small sorted buffer, replaced from the bottom.
  const size_t want = std::min(static_cast<size_t>(params_.logprobs), n);
  std::vector<TokenLogprob>& top = last_logprobs_.top;
  top.clear();
  const auto better = [&](int32_t a, int32_t b) { return raw[a] > raw[b] || (raw[a] == raw[b] && a < b); };
  std::vector<int32_t> best;
  best.reserve(want + 1);
  for (size_t i = 0; i < n && want > 0; ++i) {
    const auto id = static_cast<int32_t>(i);
    if (best.size() == want && !better(id, best.back())) continue;
    auto at = std::upper_bound(best.begin(), best.end(), id, better);
    best.insert(at, id);
    if (best.size() > want) best.pop_back();
  }
  for (const int32_t id : best) top.push_back({id, logprob_of(id)});
}

void Sampler::apply_penalties(float* logits) const {
  if (logits == nullptr) throw EngineError("sampler: logits pointer is null");
  if (!penalties_enabled()) return;
  penalised_.resize(static_cast<size_t>(n_vocab_), 0);
  for (const int32_t token : history_) {
    const size_t index = static_cast<size_t>(token);
    if (penalised_[index]) continue;  // each distinct token once, however often it occurs
    penalised_[index] = 1;
    float& logit = logits[index];
    // Dividing a negative logit would make the token more likely, so negatives are multiplied instead.
    logit = logit > 0.0f ? logit / params_.repeat_penalty : logit * params_.repeat_penalty;
    logit -= static_cast<float>(counts_[index]) * params_.frequency_penalty + params_.presence_penalty;
  }
  for (const int32_t token : history_) penalised_[static_cast<size_t>(token)] = 0;
}

int32_t Sampler::sample(const float* logits) {
  if (logits == nullptr) throw EngineError("sampler: logits pointer is null");
  const size_t n = static_cast<size_t>(n_vocab_);
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  work_.resize(n);
  for (size_t i = 0; i < n; ++i) work_[i] = std::isnan(logits[i]) ? kNegInf : logits[i];
  if (params_.logprobs >= 0) raw_.assign(work_.begin(), work_.end());
  apply_penalties(work_.data());
  for (const auto& [id, bias] : params_.logit_bias) work_[static_cast<size_t>(id)] += bias;

  const int32_t chosen = choose();
  if (matcher_ && !matcher_->accept_token(*trie_, chosen)) {
    throw EngineError("grammar: sampled token " + std::to_string(chosen) + " was not accepted");
  }
  if (params_.logprobs >= 0) record_logprobs(raw_.data(), chosen);
  return chosen;
}

int32_t Sampler::choose() {
  size_t n = static_cast<size_t>(n_vocab_);
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  if (matcher_) {
    const std::vector<uint64_t>& mask = matcher_->allowed_mask(*trie_);
    candidates_.clear();
    for (size_t w = 0; w < mask.size(); ++w) {
      for (uint64_t bits = mask[w]; bits != 0; bits &= bits - 1) {
        const size_t id = w * 64 + static_cast<size_t>(__builtin_ctzll(bits));
        candidates_.push_back({static_cast<int32_t>(id), work_[id]});
      }
    }
    if (candidates_.empty()) throw EngineError("grammar: no token of the vocabulary can continue the output");
  } else if (params_.temperature > 0.0f) {
    candidates_.resize(n);
    for (size_t i = 0; i < n; ++i) candidates_[i] = {static_cast<int32_t>(i), work_[i]};
  }

  if (params_.temperature <= 0.0f) {
    // std::max_element returns the first of equal maxima: ties go to the lowest id.
    if (!matcher_) return static_cast<int32_t>(std::max_element(work_.begin(), work_.end()) - work_.begin());
    Candidate best = candidates_[0];
    for (const Candidate& c : candidates_) {
      if (c.logit > best.logit || (c.logit == best.logit && c.id < best.id)) best = c;
    }
    return best.id;
  }
  n = candidates_.size();
  const auto by_logit_desc = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  size_t keep = n;
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) keep = static_cast<size_t>(params_.top_k);
  std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(keep), candidates_.end(),
                    by_logit_desc);
  candidates_.resize(keep);

  const float max_logit = candidates_[0].logit;
  if (max_logit == kNegInf) return candidates_[0].id;  // nothing has any probability: deterministic fallback

  if (params_.top_p < 1.0f) {
    probs_.resize(candidates_.size());
    double sum = 0.0;
    for (size_t i = 0; i < candidates_.size(); ++i) {
      probs_[i] = std::exp(candidates_[i].logit - max_logit);
      sum += probs_[i];
    }
    // Smallest prefix whose probability mass reaches top_p (at least one token).
    double cumulative = 0.0;
    size_t cut = candidates_.size();
    for (size_t i = 0; i < candidates_.size(); ++i) {
      cumulative += probs_[i] / sum;
      if (cumulative >= params_.top_p) {
        cut = i + 1;
        break;
      }
    }
    candidates_.resize(cut);
  }

  if (params_.min_p > 0.0f) {
    // p_i >= min_p * p_max  <=>  logit_i >= max_logit + ln(min_p); candidates are sorted, so keep a prefix.
    const float threshold = max_logit + std::log(params_.min_p);
    size_t cut = 1;
    while (cut < candidates_.size() && candidates_[cut].logit >= threshold) ++cut;
    candidates_.resize(cut);
  }

  probs_.resize(candidates_.size());
  double sum = 0.0;
  for (size_t i = 0; i < candidates_.size(); ++i) {
    probs_[i] = std::exp((candidates_[i].logit - max_logit) / params_.temperature);
    sum += probs_[i];
  }
  const double target = rng_.uniform() * sum;
  double cumulative = 0.0;
  for (size_t i = 0; i < candidates_.size(); ++i) {
    cumulative += probs_[i];
    if (target < cumulative) return candidates_[i].id;
  }
  return candidates_.back().id;  // rounding left the target at the very end of the mass
}

}  // namespace sovren
