// Sampler tests: greedy argmax and its tie rule, seeded determinism and reset, the effect of each filter
// (top-k, top-p, min-p, temperature) on which tokens can be drawn and how often, exact penalty arithmetic,
// the penalty window, and rejection of bad parameters.
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "grammar/token-trie.h"
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

// Logit bias shifts the penalised logits: a +bias makes a token win greedily, -100 bans it from draws.
void test_logit_bias() {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 0.5f};
  SamplingParams p = unfiltered(0.0f);
  p.logit_bias = {{2, 1.5f}};
  Sampler greedy(p, 4);
  check(greedy.sample(logits.data()) == 2, "+1.5 bias lifts token 2 above token 1");
  SamplingParams q = unfiltered(1.0f, 5);
  q.logit_bias = {{1, -100.0f}, {2, -100.0f}};
  const std::vector<int> counts = draw_counts(q, logits, 4000);
  check(counts[1] == 0 && counts[2] == 0 && counts[0] > 0 && counts[3] > 0, "-100 bans tokens from the draw");
  SamplingParams bad;
  bad.logit_bias = {{4, 1.0f}};
  check_throws([&] { Sampler s(bad, 4); }, "logit_bias token id 4 is out of range", "bias id out of range");
  bad.logit_bias = {{1, std::numeric_limits<float>::infinity()}};
  check_throws([&] { Sampler s(bad, 4); }, "logit_bias of token 1", "infinite bias");
}

// Logprobs come from the raw logits: penalties, bias and temperature do not change them.
void test_logprobs() {
  const std::vector<double> probs = {0.1, 0.5, 0.15, 0.25};
  const std::vector<float> logits = logits_of(probs);
  SamplingParams p = unfiltered(0.0f);
  p.logprobs = 3;
  p.logit_bias = {{0, 50.0f}};  // greedy picks token 0, its logprob stays log(0.1)
  p.repeat_penalty = 3.0f;
  p.temperature = 0.0f;
  Sampler s(p, 4);
  s.accept(1);
  check(s.sample(logits.data()) == 0, "bias decides the greedy choice");
  const TokenLogprobs* lp = s.last_logprobs();
  check(lp != nullptr, "logprobs recorded");
  check_near(lp->logprob, std::log(0.1), 1e-5, "chosen token's logprob is of the raw distribution");
  check(lp->top.size() == 3 && lp->top[0].token == 1 && lp->top[1].token == 3 && lp->top[2].token == 2,
        "top-3 sorted by raw probability");
  check_near(lp->top[0].logprob, std::log(0.5), 1e-5, "top logprob value");
  SamplingParams zero = unfiltered(0.7f);
  zero.logprobs = 0;
  Sampler z(zero, 4);
  z.sample(logits.data());
  check(z.last_logprobs() != nullptr && z.last_logprobs()->top.empty(), "logprobs 0: chosen token only");
  Sampler off(unfiltered(0.7f), 4);
  off.sample(logits.data());
  check(off.last_logprobs() == nullptr, "no logprobs unless asked");
  const float inf = std::numeric_limits<float>::infinity();
  const float masked[] = {-inf, 0.0f, -inf, -inf};
  SamplingParams m = unfiltered(0.0f);
  m.logprobs = 2;
  m.logit_bias = {{0, 10.0f}};
  Sampler ms(m, 4);
  ms.sample(masked);
  check(ms.last_logprobs()->top[0].token == 1 && ms.last_logprobs()->top[0].logprob == 0.0f,
        "a certain token has logprob 0");
  SamplingParams bad;
  bad.logprobs = 21;
  check_throws([&] { Sampler b(bad, 4); }, "logprobs must be in 0..20", "too many top logprobs");
}

// With a grammar only allowed tokens are drawn, the grammar advances on each, and EOS waits for completion.
void test_grammar_sampling() {
  // Vocabulary: 0 = EOS (empty piece), then pieces. The grammar wants "ab" or "abab".
  const std::vector<std::string> pieces = {"", "a", "b", "ab", "c", "ba"};
  auto trie = std::make_shared<const grammar::TokenTrie>(pieces, std::vector<int32_t>{0});
  const std::vector<float> favour_c = {5.0f, 0.0f, 0.0f, 0.0f, 9.0f, 1.0f};  // c and EOS are the model's favourites
  SamplingParams p = unfiltered(0.9f, 3);
  p.grammar = "root ::= \"ab\" (\"ab\")?";
  for (int run = 0; run < 20; ++run) {
    Sampler s(p, 6, trie);
    std::string text;
    for (int i = 0; i < 8; ++i) {
      const int32_t t = s.sample(favour_c.data());
      if (t == 0) break;
      text += pieces[static_cast<size_t>(t)];
    }
    check(text == "ab" || text == "abab", "grammar output is 'ab' or 'abab', got '" + text + "'");
    p.seed += 1;
  }
  SamplingParams g = unfiltered(0.0f);
  g.grammar = "root ::= \"ab\" (\"ab\")?";
  Sampler greedy(g, 6, trie);
  check(greedy.sample(favour_c.data()) != 0, "EOS is masked before the grammar is complete");
  check_throws([&] { Sampler bad(g, 6); }, "needs the model's vocabulary", "grammar without a trie");
  g.grammar = "root ::= \"a\"\nitem ::= [";
  check_throws([&] { Sampler bad(g, 6, trie); }, "line 2, column 11", "bad grammar names line and column");
  SamplingParams dead = unfiltered(0.0f);
  dead.grammar = "root ::= \"z\"";
  Sampler stuck(dead, 6, trie);
  check_throws([&] { stuck.sample(favour_c.data()); }, "no token of the vocabulary", "no token can continue");
  SamplingParams r = unfiltered(0.0f);
  r.grammar = "root ::= \"ba\" | \"c\"";
  Sampler reset_me(r, 6, trie);
  check(reset_me.sample(favour_c.data()) == 4, "first run picks c");
  check(reset_me.sample(favour_c.data()) == 0, "then only EOS");
  reset_me.reset();
  check(reset_me.sample(favour_c.data()) == 4, "reset() restarts the grammar");
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
      {"logit bias", test_logit_bias},
      {"logprobs", test_logprobs},
      {"grammar sampling", test_grammar_sampling},
  });
}
