// Picks the next token from logits: repetition/frequency/presence penalties, then greedy argmax or
// top-k -> top-p -> min-p -> temperature -> a seeded draw. Stop tokens are the caller's business.
#pragma once
#include <cstdint>
#include <deque>
#include <vector>

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
};

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
  Sampler(const SamplingParams& params, int32_t n_vocab);  // throws EngineError naming a bad parameter

  // `logits` holds n_vocab values. Penalties apply in greedy mode too. NaN logits count as -infinity.
  int32_t sample(const float* logits);
  // Records a token (prompt tokens too) for the penalties.
  void accept(int32_t token);
  // Forgets the history and restarts the random sequence from the seed.
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

  SamplingParams params_;
  int32_t n_vocab_;
  Xoshiro256 rng_;
  std::deque<int32_t> history_;             // the penalty window, oldest first
  std::vector<int32_t> counts_;             // occurrences of each token inside the window
  mutable std::vector<uint8_t> penalised_;  // scratch: marks tokens already penalised in this call
  std::vector<float> work_;                 // penalised logits (scratch)
  std::vector<Candidate> candidates_;
  std::vector<float> probs_;
};

}  // namespace sovren
