// Cost of grammar-constrained sampling with a 128k vocabulary:
// Sampler::sample() with and without a grammar on the same logits, over
// simulated generations (each step samples from the allowed tokens and advances
// the grammar), so the difference is what masking adds to a decode step. Also
// times building the vocabulary's token trie (once per model). The vocabulary
// is synthetic but shaped like Llama 3's: all 256 bytes, then words, word
// pieces with and without a leading space, numbers, punctuation runs,
// whitespace runs and multi-byte UTF-8 characters.
//
//   build/native-api2/bench-grammar [--vocab 128256] [--steps 200]
//   [--step-ms 17.2] [--seed 1]
//
// --step-ms: the decode step the overhead is compared with (default: Q4_K tg 58
// tok/s of docs/performance.md, the fastest type, so the strictest comparison).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "grammar/grammar-matcher.h"
#include "grammar/token-trie.h"
#include "sampling/sampler.h"

using namespace sovren;

namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> synthetic_vocab(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> pieces;
  std::set<std::string> seen;
  auto add = [&](const std::string &p) {
    if (!p.empty() && seen.insert(p).second)
      pieces.push_back(p);
  };
  for (int b = 0; b < 256; ++b)
    add(std::string(1, static_cast<char>(b)));
  const std::string consonants = "bcdfghjklmnpqrstvwxyz", vowels = "aeiou",
                    punct = ".,;:!?()[]{}\"'-_/\\*#=<>+&%$@|";
  const char *utf8[] = {"\xc3\xa9",     "\xc3\xa0",         "\xc3\xbc",
                        "\xc3\xb6",     "\xce\xb1",         "\xd0\xb0",
                        "\xd0\xbe",     "\xe3\x81\x82",     "\xe4\xb8\x80",
                        "\xe7\x9a\x84", "\xf0\x9f\x98\x80", "\xe2\x80\x94"};
  while (pieces.size() < n) {
    const uint32_t kind = rng() % 100;
    std::string p;
    if (kind <
        70) { // words and pieces, half with a leading space, some capitalised
      if (rng() % 2)
        p += ' ';
      const int syllables = 1 + static_cast<int>(rng() % 4);
      for (int s = 0; s < syllables; ++s) {
        p += consonants[rng() % consonants.size()];
        p += vowels[rng() % vowels.size()];
        if (rng() % 3 == 0)
          p += consonants[rng() % consonants.size()];
      }
      if (rng() % 5 == 0)
        p[p[0] == ' ' ? 1 : 0] =
            static_cast<char>(std::toupper(p[p[0] == ' ' ? 1 : 0]));
    } else if (kind < 78) { // numbers
      if (rng() % 3 == 0)
        p += ' ';
      const int digits = 1 + static_cast<int>(rng() % 3);
      for (int d = 0; d < digits; ++d)
        p += static_cast<char>('0' + rng() % 10);
    } else if (kind < 88) { // punctuation runs, often with spaces and newlines
      const int len = 1 + static_cast<int>(rng() % 3);
      if (rng() % 2)
        p += ' ';
      for (int i = 0; i < len; ++i)
        p += punct[rng() % punct.size()];
      if (rng() % 4 == 0)
        p += '\n';
    } else if (kind < 92) { // whitespace runs
      const int len = 2 + static_cast<int>(rng() % 14);
      p = std::string(static_cast<size_t>(len), rng() % 3 == 0 ? '\t' : ' ');
      if (rng() % 2)
        p = "\n" + p;
    } else { // multi-byte characters, alone or in short runs
      if (rng() % 2)
        p += ' ';
      const int len = 1 + static_cast<int>(rng() % 3);
      for (int i = 0; i < len; ++i)
        p += utf8[rng() % (sizeof utf8 / sizeof utf8[0])];
    }
    add(p);
  }
  pieces.resize(n);
  return pieces;
}

// The grammars the inference API produces: json_object, and a JSON Schema with
// an object, enum, integer, string and an array (as compiled by
// jsonSchemaToGrammar).
const char *kJsonObject = R"(root ::= object
object ::= "{" space ( string ":" space value ( "," space string ":" space value )* )? "}" space
string ::= "\"" char* "\"" space
char ::= [^"\\\x00-\x1F\x7F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] )
space ::= ( " " | "\n" ( [ \t] ( [ \t] ( [ \t] ( [ \t] )? )? )? )? )?
value ::= object | array | string | number | boolean | null
array ::= "[" space ( value ( "," space value )* )? "]" space
number ::= "-"? ( [0] | [1-9] [0-9]* ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )? space
boolean ::= ( "true" | "false" ) space
null ::= "null" space
)";

const char *kSchema =
    R"(root ::= "{" space name-kv "," space age-kv "," space tags-kv "}" space
name-kv ::= "\"name\"" space ":" space string
age-kv ::= "\"age\"" space ":" space integer
tags-kv ::= "\"tags\"" space ":" space "[" space ( tag ( "," space tag )* )? "]" space
tag ::= "\"red\"" space | "\"green\"" space | "\"blue\"" space
string ::= "\"" char* "\"" space
char ::= [^"\\\x00-\x1F\x7F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] )
integer ::= "-"? ( [0] | [1-9] [0-9]{0,15} ) space
space ::= ( " " | "\n" ( [ \t] ( [ \t] ( [ \t] ( [ \t] )? )? )? )? )?
)";

struct Timing {
  double mean = 0, p50 = 0, p99 = 0, max = 0;
};

Timing summarise(std::vector<double> v) {
  Timing t;
  if (v.empty())
    return t;
  std::sort(v.begin(), v.end());
  for (double x : v)
    t.mean += x;
  t.mean /= static_cast<double>(v.size());
  t.p50 = v[v.size() / 2];
  t.p99 = v[std::min(v.size() - 1, v.size() * 99 / 100)];
  t.max = v.back();
  return t;
}

} // namespace

int main(int argc, char **argv) {
  size_t n_vocab = 128256;
  int steps = 200;
  double step_ms = 1000.0 / 58.12;
  uint32_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--vocab"))
      n_vocab = std::strtoul(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--steps"))
      steps = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--step-ms"))
      step_ms = std::atof(argv[i + 1]);
    if (!std::strcmp(argv[i], "--seed"))
      seed = static_cast<uint32_t>(std::atoi(argv[i + 1]));
  }
  std::vector<std::string> pieces = synthetic_vocab(n_vocab - 1, seed);
  pieces.push_back(""); // the end-of-generation token
  const auto eos = static_cast<int32_t>(pieces.size() - 1);
  double t0 = now_ms();
  auto trie = std::make_shared<const grammar::TokenTrie>(
      pieces, std::vector<int32_t>{eos});
  const double trie_ms = now_ms() - t0;
  std::printf("vocabulary %zu tokens, trie %zu nodes (max depth %d), built in "
              "%.1f ms (once per model)\n",
              pieces.size(), trie->node_count(), trie->max_depth(), trie_ms);
  std::printf("decode step compared with: %.2f ms\n\n", step_ms);
  std::printf("%-12s %6s %10s %10s %10s %10s %10s %9s %8s\n", "grammar",
              "steps", "plain ms", "mask mean", "mask p50", "mask p99",
              "mask max", "% of step", "allowed");

  std::mt19937 rng(seed);
  std::vector<float> logits(pieces.size());
  const struct {
    const char *name;
    const char *gbnf;
  } grammars[] = {{"json_object", kJsonObject}, {"json_schema", kSchema}};
  for (const auto &g : grammars) {
    SamplingParams params; // chat defaults: temperature 0.8, top-k 40, top-p
                           // 0.95, min-p 0.05
    params.seed = seed;
    SamplingParams constrained = params;
    constrained.grammar = g.gbnf;
    Sampler plain(params, static_cast<int32_t>(pieces.size()));
    Sampler masked(constrained, static_cast<int32_t>(pieces.size()), trie);
    grammar::GrammarMatcher shadow(
        g.gbnf); // counts the allowed tokens at each step
    std::vector<double> plain_ms, extra_ms;
    std::vector<int32_t> allowed;
    size_t allowed_total = 0;
    int done = 0;
    for (int step = 0; step < steps; ++step) {
      std::normal_distribution<float> dist(0.0f, 2.5f);
      for (float &x : logits)
        x = dist(rng);
      logits[static_cast<size_t>(eos)] =
          -5.0f; // long outputs: the model rarely wants to stop
      shadow.allowed_tokens(*trie, allowed);
      allowed_total += allowed.size();
      double a = now_ms();
      plain.sample(logits.data());
      const double plain_t = now_ms() - a;
      a = now_ms();
      const int32_t token = masked.sample(logits.data());
      const double masked_t = now_ms() - a;
      plain_ms.push_back(plain_t);
      extra_ms.push_back(std::max(0.0, masked_t - plain_t));
      ++done;
      if (token == eos) { // finished: start a new output
        masked.reset();
        shadow.reset();
        continue;
      }
      shadow.accept_token(*trie, token);
    }
    const Timing p = summarise(plain_ms), m = summarise(extra_ms);
    std::printf("%-12s %6d %10.3f %10.3f %10.3f %10.3f %10.3f %8.1f%% %8zu\n",
                g.name, done, p.mean, m.mean, m.p50, m.p99, m.max,
                100.0 * m.mean / step_ms,
                allowed_total / static_cast<size_t>(std::max(1, done)));
  }
  std::printf("\nmask = sample() with the grammar minus sample() without it on "
              "the same logits (what masking adds): a state\n"
              "seen before costs a cached mask; the p99/max are the first "
              "visits of permissive states (a whole trie walk).\n");
  return 0;
}
