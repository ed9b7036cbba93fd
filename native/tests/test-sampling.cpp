// Sampler tests: greedy argmax and its tie rule, seeded determinism and reset, the effect of each filter
// (top-k, top-p, min-p, temperature) on which tokens can be drawn and how often, exact penalty arithmetic,
// the penalty window, and rejection of bad parameters.
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "sampling/sampler.h"

#include "test-check.h"

using namespace sovren;

namespace {

void check_near(double got, double want, double tolerance, const std::string& what) {
  check(std::fabs(got - want) <= tolerance, what + ": got " + std::to_string(got) + ", want " + std::to_string(want));
}

void check_throws(const std::function<void()>& fn, const std::string& needle, const std::string& what) {
  try {
    fn();
    check(false, what + ": no EngineError thrown");
  } catch (const EngineError& e) {
    check(std::string(e.what()).find(needle) != std::string::npos,
          what + ": message \"" + e.what() + "\" does not mention \"" + needle + "\"");
  }
}

SamplingParams unfiltered(float temperature, uint64_t seed = 1) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = seed;
  return p;
}

// Logits whose softmax is exactly `probs` (up to float rounding).
std::vector<float> logits_of(const std::vector<double>& probs) {
  std::vector<float> logits;
  for (const double p : probs) logits.push_back(static_cast<float>(std::log(p)));
  return logits;
}

std::vector<int> draw_counts(const SamplingParams& params, const std::vector<float>& logits, int draws) {
  Sampler sampler(params, static_cast<int32_t>(logits.size()));
  std::vector<int> counts(logits.size(), 0);
  for (int i = 0; i < draws; ++i) ++counts[static_cast<size_t>(sampler.sample(logits.data()))];
  return counts;
}

void test_greedy() {
  Sampler sampler(unfiltered(0.0f), 5);
  const float logits[] = {1.0f, 3.0f, 3.0f, 2.0f, -1.0f};
  check(sampler.sample(logits) == 1, "greedy picks the maximum, ties to the lowest id");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float with_nan[] = {nan, 0.5f, 0.25f, nan, 0.0f};
  check(sampler.sample(with_nan) == 1, "NaN logits never win");
  Sampler negative(unfiltered(-1.0f), 3);
  const float neg[] = {-5.0f, -2.0f, -3.0f};
  check(negative.sample(neg) == 1, "negative temperature is greedy too");
  const float inf = std::numeric_limits<float>::infinity();
  const float all_masked[] = {-inf, -inf, -inf};
  Sampler random(unfiltered(1.0f), 3);
  check(random.sample(all_masked) == 0, "all tokens masked: lowest id, no crash");
}

void test_seeded_determinism() {
  const std::vector<float> logits(50, 0.0f);  // uniform over 50 tokens
  Sampler a(unfiltered(1.0f, 42), 50), b(unfiltered(1.0f, 42), 50), c(unfiltered(1.0f, 43), 50);
  std::vector<int32_t> seq_a, seq_b, seq_c;
  for (int i = 0; i < 64; ++i) {
    seq_a.push_back(a.sample(logits.data()));
    seq_b.push_back(b.sample(logits.data()));
    seq_c.push_back(c.sample(logits.data()));
  }
  check(seq_a == seq_b, "same seed gives the same sequence");
  check(seq_a != seq_c, "a different seed gives a different sequence");
  a.reset();
  std::vector<int32_t> again;
  for (int i = 0; i < 64; ++i) again.push_back(a.sample(logits.data()));
  check(again == seq_a, "reset restarts the sequence from the seed");
  check(std::set<int32_t>(seq_a.begin(), seq_a.end()).size() > 20, "uniform logits spread the draws");
}

void test_distribution_and_temperature() {
  const std::vector<float> logits = logits_of({0.75, 0.25});
  const int draws = 20000;
  const std::vector<int> t1 = draw_counts(unfiltered(1.0f, 7), logits, draws);
  check_near(t1[1] / double(draws), 0.25, 0.02, "temperature 1 draws follow the softmax");
  // Temperature 2 flattens: p1 = sqrt(.25) / (sqrt(.75) + sqrt(.25)) = 0.366.
  const std::vector<int> t2 = draw_counts(unfiltered(2.0f, 7), logits, draws);
  check_near(t2[1] / double(draws), 0.366, 0.02, "temperature 2 flattens the distribution");
  // Temperature 0.5 sharpens: p1 = .0625 / (.5625 + .0625) = 0.1.
  const std::vector<int> t05 = draw_counts(unfiltered(0.5f, 7), logits, draws);
  check_near(t05[1] / double(draws), 0.1, 0.015, "temperature 0.5 sharpens the distribution");
}

void test_filters() {
  const std::vector<float> logits = logits_of({0.5, 0.3, 0.15, 0.05});
  const int draws = 4000;
  const auto reached = [&](const SamplingParams& p) {
    const std::vector<int> counts = draw_counts(p, logits, draws);
    std::string set;
    for (size_t i = 0; i < counts.size(); ++i) set += counts[i] > 0 ? '1' : '0';
    return set;
  };
  check(reached(unfiltered(1.0f)) == "1111", "without filters every token is drawn");
  SamplingParams p = unfiltered(1.0f);
  p.top_k = 1;
  check(reached(p) == "1000", "top_k 1 keeps only the best token");
  p.top_k = 2;
  check(reached(p) == "1100", "top_k 2 keeps two tokens");
  p = unfiltered(1.0f);
  p.top_p = 0.75f;  // 0.5 < 0.75 <= 0.8
  check(reached(p) == "1100", "top_p 0.75 keeps the prefix reaching 0.8");
  p.top_p = 0.85f;  // 0.8 < 0.85 <= 0.95
  check(reached(p) == "1110", "top_p 0.85 keeps three tokens");
  p.top_p = 0.0f;
  check(reached(p) == "1000", "top_p 0 keeps at least one token");
  p = unfiltered(1.0f);
  p.min_p = 0.2f;  // threshold 0.1: keeps 0.5, 0.3, 0.15
  check(reached(p) == "1110", "min_p 0.2 drops tokens below a fifth of the best");
  p.min_p = 0.5f;  // threshold 0.25
  check(reached(p) == "1100", "min_p 0.5 drops tokens below half of the best");
  // Filters combine: top_k 3 then min_p 0.5 -> two tokens; renormalised p1 = 0.3 / 0.8.
  p.top_k = 3;
  const std::vector<int> counts = draw_counts(p, logits, 20000);
  check_near(counts[1] / 20000.0, 0.375, 0.02, "kept tokens are renormalised");
}

void test_penalties() {
  SamplingParams p = unfiltered(0.0f);
  p.repeat_penalty = 2.0f;
  Sampler repeat(p, 4);
  repeat.accept(0);
  repeat.accept(1);
  repeat.accept(1);
  float logits[] = {2.0f, -1.0f, 0.5f, 3.0f};
  repeat.apply_penalties(logits);
  check_near(logits[0], 1.0, 1e-6, "repeat penalty divides a positive logit");
  check_near(logits[1], -2.0, 1e-6, "repeat penalty multiplies a negative logit (once, despite two occurrences)");
  check_near(logits[2], 0.5, 0.0, "unseen tokens are untouched");

  p.repeat_penalty = 1.0f;
  p.frequency_penalty = 0.25f;
  p.presence_penalty = 0.5f;
  Sampler freq(p, 4);
  for (const int32_t t : {2, 2, 2, 3}) freq.accept(t);
  float f_logits[] = {1.0f, 1.0f, 1.0f, 1.0f};
  freq.apply_penalties(f_logits);
  check_near(f_logits[2], 1.0 - 3 * 0.25 - 0.5, 1e-6, "frequency penalty scales with the count, presence applies once");
  check_near(f_logits[3], 1.0 - 0.25 - 0.5, 1e-6, "single occurrence");
  check_near(f_logits[0], 1.0, 0.0, "unseen token untouched by frequency/presence");

  // Penalties steer greedy decoding: token 0 would win without them.
  float greedy_logits[] = {3.0f, 2.0f};
  SamplingParams g = unfiltered(0.0f);
  g.presence_penalty = 1.5f;
  Sampler greedy(g, 2);
  greedy.accept(0);
  check(greedy.sample(greedy_logits) == 1, "presence penalty changes the greedy choice");

  // The window only looks at the last penalty_last_n tokens.
  SamplingParams w = unfiltered(0.0f);
  w.repeat_penalty = 4.0f;
  w.penalty_last_n = 2;
  Sampler window(w, 3);
  for (const int32_t t : {0, 1, 1}) window.accept(t);
  float w_logits[] = {2.0f, 2.0f, 2.0f};
  window.apply_penalties(w_logits);
  check(w_logits[0] == 2.0f && w_logits[1] == 0.5f, "tokens older than penalty_last_n are not penalised");
  window.reset();
  float after_reset[] = {2.0f, 2.0f, 2.0f};
  window.apply_penalties(after_reset);
  check(after_reset[1] == 2.0f, "reset clears the history");

  SamplingParams off = unfiltered(0.0f);
  off.repeat_penalty = 3.0f;
  off.penalty_last_n = 0;
  Sampler disabled(off, 2);
  disabled.accept(0);
  float d_logits[] = {2.0f, 1.0f};
  disabled.apply_penalties(d_logits);
  check(d_logits[0] == 2.0f, "penalty_last_n 0 disables penalties");
}

void test_bad_params() {
  const auto make = [](const std::function<void(SamplingParams&)>& edit, int32_t n_vocab = 10) {
    return [edit, n_vocab] {
      SamplingParams p;
      edit(p);
      Sampler s(p, n_vocab);
    };
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  check_throws(make([&](SamplingParams& p) { p.temperature = nan; }), "temperature", "NaN temperature");
  check_throws(make([&](SamplingParams& p) { p.top_p = 1.5f; }), "top_p", "top_p above 1");
  check_throws(make([&](SamplingParams& p) { p.top_p = -0.1f; }), "top_p", "negative top_p");
  check_throws(make([&](SamplingParams& p) { p.min_p = 2.0f; }), "min_p", "min_p above 1");
  check_throws(make([&](SamplingParams& p) { p.repeat_penalty = 0.0f; }), "repeat_penalty", "zero repeat_penalty");
  check_throws(make([&](SamplingParams& p) { p.penalty_last_n = -2; }), "penalty_last_n", "penalty_last_n below -1");
  check_throws(make([&](SamplingParams& p) { p.frequency_penalty = inf; }), "frequency_penalty", "infinite frequency");
  check_throws(make([&](SamplingParams& p) { p.presence_penalty = nan; }), "presence_penalty", "NaN presence");
  check_throws(make([](SamplingParams&) {}, 0), "n_vocab", "empty vocabulary");
  Sampler ok(SamplingParams{}, 10);
  check_throws([&] { ok.accept(10); }, "10", "accepting an out-of-range token");
  check_throws([&] { ok.sample(nullptr); }, "null", "null logits");
}

}  // namespace

int main() {
  return run_suites({
      {"greedy", test_greedy},
      {"seeded determinism", test_seeded_determinism},
      {"distribution/temperature", test_distribution_and_temperature},
      {"filters", test_filters},
      {"penalties", test_penalties},
      {"bad params", test_bad_params},
  });
}
