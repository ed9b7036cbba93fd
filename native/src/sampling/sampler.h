// Picks the next token from logits: repetition/frequency/presence penalties, logit bias, the grammar mask, then
// greedy argmax or top-k -> top-p -> min-p -> temperature -> a seeded draw. Stop tokens are the caller's business.
// Optionally reports the log-probability of the chosen token and the top-N alternatives under the raw logits.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "grammar/grammar-matcher.h"
#include "grammar/token-trie.h"

namespace sovren {

struct SamplingParams {
  float temperature = 0.8f;     // <= 0: greedy argmax
  int32_t top_k = 40;           // <= 0: disabled
  float top_p = 0.95f;          // [0, 1]; 1: disabled
  float min_p = 0.05f;          // [0, 1]; 0: disabled
  float repeat_penalty = 1.0f;  // > 0; 1: disabled
  int32_t penalty_last_n = 64;  // tokens of history the penalties look at; 0: none, -1: all
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  uint64_t seed = 0;  // same seed, same logits, same history => same tokens
  // Added to the logits (after the penalties) before sampling; -100 practically bans a token. Ids must be in range.
  std::vector<std::pair<int32_t, float>> logit_bias;
  // GBNF text (root rule `root`); empty: unconstrained. Only tokens the grammar allows can be sampled, and
  // end-of-generation tokens only where it is complete. Needs the vocabulary's token trie (see Sampler).
  std::string grammar;
  // -1: off. 0..kMaxTopLogprobs: every sample() records the chosen token's logprob and the top-N alternatives,
  // log-softmax of the raw logits (before penalties, bias, grammar and temperature), natural log.
  int32_t logprobs = -1;
  static constexpr int32_t kMaxTopLogprobs = 20;
};

struct TokenLogprob {
  int32_t token;
  float logprob;  // non-finite values (a token of -inf logit) are reported as kMinLogprob
};
struct TokenLogprobs {
  float logprob = 0.0f;           // of the chosen token
  std::vector<TokenLogprob> top;  // descending, ties to the lower id; size = SamplingParams::logprobs
};
constexpr float kMinLogprob = -9999.0f;

// xoshiro256** seeded through splitmix64: small, fast, and identical on every platform.
class Xoshiro256 {
 public:
  explicit Xoshiro256(uint64_t seed);
  uint64_t next();
  double uniform();  // [0, 1)

 private:
  uint64_t state_[4];
};

class Sampler {
 public:
  // Throws EngineError naming a bad parameter (GrammarError with line and column for a bad grammar). A grammar
  // needs `trie`, the token trie of the model's vocabulary (LlamaModel::token_trie()).
  Sampler(const SamplingParams& params, int32_t n_vocab, std::shared_ptr<const grammar::TokenTrie> trie = nullptr);

  // `logits` holds n_vocab values. Penalties apply in greedy mode too. NaN logits count as -infinity. With a
  // grammar, the chosen token also advances the grammar (throws EngineError when no token can continue it).
  int32_t sample(const float* logits);
  // Logprobs of the last sample() when SamplingParams::logprobs >= 0, else nullptr.
  const TokenLogprobs* last_logprobs() const { return params_.logprobs >= 0 ? &last_logprobs_ : nullptr; }
  // The grammar state (nullptr without a grammar).
  const grammar::GrammarMatcher* grammar() const { return matcher_ ? &*matcher_ : nullptr; }
  // Records a token (prompt tokens too) for the penalties.
  void accept(int32_t token);
  // Forgets the history, restarts the random sequence from the seed and the grammar from its start.
  void reset();

  // Applies the repetition, frequency and presence penalties of the current history to n_vocab logits in place
  // (the first step of sample(); public so callers and tests can see the penalised values).
  void apply_penalties(float* logits) const;

  const SamplingParams& params() const { return params_; }
  int32_t n_vocab() const { return n_vocab_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
  };
  bool penalties_enabled() const;
  void record_logprobs(const float* raw, int32_t chosen);
  int32_t choose();  // from work_ (penalised, biased logits), within the grammar's allowed tokens

  SamplingParams params_;
  int32_t n_vocab_;
  Xoshiro256 rng_;
  std::deque<int32_t> history_;             // the penalty window, oldest first
  std::vector<int32_t> counts_;             // occurrences of each token inside the window
  mutable std::vector<uint8_t> penalised_;  // scratch: marks tokens already penalised in this call
  std::vector<float> work_;                 // penalised logits (scratch)
  std::vector<Candidate> candidates_;
  std::vector<float> probs_;
  std::shared_ptr<const grammar::TokenTrie> trie_;
  std::optional<grammar::GrammarMatcher> matcher_;
  std::vector<float> raw_;  // scratch: raw logits for logprobs
  TokenLogprobs last_logprobs_;
};

}  // namespace sovren
