// Batched multi-sequence steps against each sequence run alone: a tiny llama model is built in memory, several
// sequences with different prompt lengths go through LlamaModel::forward_batch / run_batch_step in varying
// groupings (prompt chunks beside single decode tokens, micro-batch splits), and their logits and greedy tokens
// must match the single-sequence forward pass; seeded sampling must match Generator::run; invalid batches must
// change nothing; smaller per-sequence contexts and reset() must behave.
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "cpu/fp16.h"
#include "model/batch-step.h"
#include "model/generator.h"
#include "model/llama-model.h"
#include "model/sequence.h"
#include "test-gguf-builder.h"

#include "test-check.h"

using namespace sovren;

namespace {

constexpr int kVocab = 96;
constexpr int kDim = 64;
constexpr int kFf = 96;
constexpr int kHeads = 4;
constexpr int kKvHeads = 2;
constexpr int kLayers = 2;
constexpr int kContext = 1024;

struct TinyModel {
  std::vector<uint8_t> bytes;  // the GGUF the model reads in place (Mmap storage)
  std::unique_ptr<LlamaModel> model;
};

std::vector<uint8_t> tensor_bytes(const std::vector<float>& values, TensorType type) {
  std::vector<uint8_t> out;
  if (type == TensorType::F32) {
    out.resize(values.size() * 4);
    std::memcpy(out.data(), values.data(), out.size());
  } else {
    out.resize(values.size() * 2);
    for (size_t i = 0; i < values.size(); ++i) {
      const uint16_t h = fp32_to_fp16(values[i]);
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  }
  return out;
}

// Random weights scaled so activations stay O(1) through the layers; norms around 1.
std::unique_ptr<TinyModel> make_model(TensorType type, uint32_t seed) {
  using gguf_test::GgufBuilder;
  GgufBuilder g;
  gguf_test::add_tiny_llama_header(g, {"llama", kContext, kDim, kLayers, kFf, kHeads, kKvHeads}, kVocab,
                                   "batch-step-test");

  std::mt19937 rng(seed);
  auto matrix = [&](const std::string& name, int cols, int rows) {
    std::normal_distribution<float> dist(0.0f, 1.0f / std::sqrt(static_cast<float>(cols)));
    std::vector<float> v(static_cast<size_t>(cols) * rows);
    for (float& x : v) x = dist(rng);
    g.add_tensor(name, static_cast<uint32_t>(type), {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)},
                 tensor_bytes(v, type));
  };
  auto norm = [&](const std::string& name) {
    std::uniform_real_distribution<float> dist(0.8f, 1.2f);
    std::vector<float> v(kDim);
    for (float& x : v) x = dist(rng);
    g.add_tensor(name, 0, {kDim}, tensor_bytes(v, TensorType::F32));
  };
  const int head_dim = kDim / kHeads;
  matrix("token_embd.weight", kDim, kVocab);
  matrix("output.weight", kDim, kVocab);
  norm("output_norm.weight");
  for (int l = 0; l < kLayers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    norm(b + "attn_norm.weight");
    matrix(b + "attn_q.weight", kDim, kDim);
    matrix(b + "attn_k.weight", kDim, head_dim * kKvHeads);
    matrix(b + "attn_v.weight", kDim, head_dim * kKvHeads);
    matrix(b + "attn_output.weight", kDim, kDim);
    norm(b + "ffn_norm.weight");
    matrix(b + "ffn_gate.weight", kDim, kFf);
    matrix(b + "ffn_up.weight", kDim, kFf);
    matrix(b + "ffn_down.weight", kFf, kDim);
  }
  auto tiny = std::make_unique<TinyModel>();
  tiny->bytes = g.build();
  ModelLoadOptions options;
  options.n_threads = 2;
  options.weights = WeightStorage::Mmap;  // Copy would madvise(DONTNEED) the heap buffer the file lives in
  tiny->model = std::make_unique<LlamaModel>(GgufFile::from_buffer(tiny->bytes.data(), tiny->bytes.size()), options);
  return tiny;
}

std::vector<int32_t> prompt_of(int length, int salt) { return gguf_test::tiny_prompt(length, salt, kVocab); }

// What one sequence sees when it runs alone: the logits after its prompt and after each greedy token.
struct Reference {
  std::vector<std::vector<float>> logits;
  std::vector<int32_t> tokens;
};

Reference run_alone(LlamaModel& model, const std::vector<int32_t>& prompt, int n_decode) {
  Sequence seq(model);
  Reference ref;
  std::span<const float> logits = model.forward(seq, prompt.data(), static_cast<int>(prompt.size()), false);
  for (int i = 0;; ++i) {
    ref.logits.emplace_back(logits.begin(), logits.end());
    const int32_t id = argmax(logits);
    ref.tokens.push_back(id);
    if (i + 1 == n_decode) break;
    logits = model.forward(seq, &id, 1, false);
  }
  return ref;
}

// A sequence's part in a batched run: its prompt in chunks of the given sizes, then greedy decode tokens.
struct Stream {
  std::vector<int32_t> prompt;
  std::vector<int> chunks;
  int start_step;  // first step it joins, so groupings vary
  std::unique_ptr<Sequence> seq;
  size_t chunk = 0, fed = 0;
  std::vector<int32_t> tokens;  // sampled so far
  std::vector<double> errors;
};

// Runs every stream through steps until each has `n_decode` tokens; checks logits and tokens against running
// alone. Returns the worst relative L2 error.
double run_streams(LlamaModel& model, std::vector<Stream>& streams, int n_decode, double tolerance,
                   const std::string& label) {
  std::vector<Reference> refs;
  for (Stream& s : streams) {
    refs.push_back(run_alone(model, s.prompt, n_decode));
    s.seq = std::make_unique<Sequence>(model);
    SamplingParams greedy;
    greedy.temperature = 0.0f;
    s.seq->set_sampling(greedy);
  }
  double worst = 0.0;
  for (int step = 0;; ++step) {
    std::vector<StepEntry> entries;
    std::vector<size_t> owners;
    for (size_t i = 0; i < streams.size(); ++i) {
      Stream& s = streams[i];
      if (step < s.start_step || static_cast<int>(s.tokens.size()) == n_decode) continue;
      StepEntry e;
      e.seq = s.seq.get();
      if (s.fed < s.prompt.size()) {
        const size_t size = std::min<size_t>(s.chunks[std::min(s.chunk, s.chunks.size() - 1)], s.prompt.size() - s.fed);
        e.tokens.assign(s.prompt.begin() + static_cast<std::ptrdiff_t>(s.fed),
                        s.prompt.begin() + static_cast<std::ptrdiff_t>(s.fed + size));
        s.fed += size;
        ++s.chunk;
        e.sample = s.fed == s.prompt.size();
      } else {
        e.tokens = {s.tokens.back()};
        e.sample = true;
      }
      entries.push_back(std::move(e));
      owners.push_back(i);
    }
    if (entries.empty()) break;
    const std::vector<StepResult> results = run_batch_step(model, entries);
    for (size_t k = 0; k < entries.size(); ++k) {
      Stream& s = streams[owners[k]];
      if (!entries[k].sample) {
        check(results[k].token == -1, label + ": an entry that does not sample returns token -1");
        continue;
      }
      const size_t n = s.tokens.size();
      const double err = relative_l2(s.seq->logits(), refs[owners[k]].logits[n]);
      worst = std::max(worst, err);
      check(err < tolerance, label + ": stream " + std::to_string(owners[k]) + " token " + std::to_string(n) +
                                 " logits rel L2 " + std::to_string(err));
      s.tokens.push_back(results[k].token);
    }
  }
  for (size_t i = 0; i < streams.size(); ++i) {
    check(streams[i].tokens == refs[i].tokens, label + ": stream " + std::to_string(i) + " greedy tokens match");
    check(streams[i].seq->position() == static_cast<int>(streams[i].prompt.size()) + n_decode - 1,
          label + ": stream " + std::to_string(i) + " position counts every token fed");
  }
  return worst;
}

std::vector<Stream> mixed_streams() {
  std::vector<Stream> streams;
  const int lengths[] = {1, 7, 20, 33, 3, 17};
  const std::vector<int> chunkings[] = {{1}, {3, 4}, {20}, {5, 16, 12}, {1, 1, 1}, {16, 1}};
  const int starts[] = {0, 0, 2, 1, 4, 3};
  for (int i = 0; i < 6; ++i) {
    Stream s;
    s.prompt = prompt_of(lengths[i], i);
    s.chunks = chunkings[i];
    s.start_step = starts[i];
    streams.push_back(std::move(s));
  }
  return streams;
}

void test_mixed_steps(TensorType type, const char* name) {
  auto tiny = make_model(type, 11);
  std::vector<Stream> streams = mixed_streams();
  const double worst = run_streams(*tiny->model, streams, 12, 1e-5, std::string(name) + " mixed steps");
  std::printf("%s: worst relative L2 of batched vs alone logits: %.3g\n", name, worst);
}

void test_micro_batch_split() {
  auto tiny = make_model(TensorType::F32, 5);
  std::vector<Stream> streams;
  const int lengths[] = {300, 290, 1};
  for (int i = 0; i < 3; ++i) {
    Stream s;
    s.prompt = prompt_of(lengths[i], 20 + i);
    s.chunks = {lengths[i]};
    s.start_step = 0;
    streams.push_back(std::move(s));
  }
  run_streams(*tiny->model, streams, 3, 1e-5, "micro-batch split (591 rows in one step)");
}

void expect_error(const std::function<void()>& fn, const std::string& needle, const std::string& what) {
  try {
    fn();
    check(false, what + ": no error");
  } catch (const EngineError& e) {
    check(std::string(e.what()).find(needle) != std::string::npos,
          what + ": message \"" + e.what() + "\" lacks \"" + needle + "\"");
  }
}

void test_validation() {
  auto tiny = make_model(TensorType::F32, 3);
  auto other = make_model(TensorType::F32, 4);
  LlamaModel& model = *tiny->model;
  Sequence a(model), b(model, 16), foreign(*other->model);
  const std::vector<int32_t> prompt_a = prompt_of(5, 1), prompt_b = prompt_of(4, 2);
  run_batch_step(model, std::vector<StepEntry>{{&a, prompt_a, false}, {&b, prompt_b, false}});
  const int pos_a = a.position(), pos_b = b.position();

  const std::vector<int32_t> one = {7};
  expect_error(
      [&] {
        run_batch_step(model, std::vector<StepEntry>{{&a, one, true}, {&a, one, true}});
      },
      "batch entry 1: sequence appears more than once", "duplicate sequence");
  expect_error(
      [&] {
        run_batch_step(model, std::vector<StepEntry>{{&a, one, true}, {&b, {}, true}});
      },
      "batch entry 1: needs at least one token", "empty tokens");
  expect_error(
      [&] {
        run_batch_step(model, std::vector<StepEntry>{{&a, one, true}, {&b, {5, kVocab}, true}});
      },
      "batch entry 1: token id 96 at index 1 is out of range", "token id out of range");
  expect_error(
      [&] {
        run_batch_step(model, std::vector<StepEntry>{{&b, {-1}, true}});
      },
      "batch entry 0: token id -1", "negative token id");
  expect_error(
      [&] {
        run_batch_step(model, std::vector<StepEntry>{{&a, one, true}, {&b, prompt_of(13, 3), true}});
      },
      "batch entry 1: context size 16 exceeded: 4 tokens in the sequence + 13 new", "context overflow");
  expect_error(
      [&] {
        run_batch_step(model, std::vector<StepEntry>{{&a, one, true}, {&foreign, one, true}});
      },
      "batch entry 1: sequence belongs to a different model", "foreign sequence");
  expect_error(
      [&] {
        run_batch_step(model, std::vector<StepEntry>{{nullptr, one, true}});
      },
      "batch entry 0: no sequence", "null sequence");
  check(a.position() == pos_a && b.position() == pos_b, "failed validations leave positions unchanged");
  check(foreign.position() == 0, "failed validation leaves the foreign sequence unchanged");

  // A following valid step is still exact: compare with the same sequences run alone.
  SamplingParams greedy;
  greedy.temperature = 0.0f;
  a.set_sampling(greedy);
  b.set_sampling(greedy);
  const auto results = run_batch_step(model, std::vector<StepEntry>{{&a, one, true}, {&b, prompt_of(12, 3), true}});
  std::vector<int32_t> alone_a = prompt_a, alone_b = prompt_b;
  alone_a.push_back(7);
  const std::vector<int32_t> more_b = prompt_of(12, 3);
  alone_b.insert(alone_b.end(), more_b.begin(), more_b.end());
  const Reference ref_a = run_alone(model, alone_a, 1), ref_b = run_alone(model, alone_b, 1);
  check(relative_l2(a.logits(), ref_a.logits[0]) < 1e-5 && results[0].token == ref_a.tokens[0],
        "after rejected batches, sequence a continues exactly");
  check(relative_l2(b.logits(), ref_b.logits[0]) < 1e-5 && results[1].token == ref_b.tokens[0],
        "after rejected batches, sequence b continues exactly (fills its 16-token context)");
  check(b.position() == 16, "the smaller context can be filled completely");
  expect_error(
      [&] {
        run_batch_step(model, std::vector<StepEntry>{{&b, one, true}});
      },
      "context size 16 exceeded", "a full smaller context rejects one more token");
  check(run_batch_step(model, std::vector<StepEntry>{}).empty(), "an empty batch is a no-op");

  expect_error([&] { Sequence too_big(model, kContext + 1); }, "exceeds the model's context size 1024",
               "a sequence context above the model's is rejected");
  Sequence small(model, 16);
  check(small.context_size() == 16, "a sequence reports its own context size");
  SamplingParams bad;
  bad.top_p = 2.0f;
  expect_error([&] { a.set_sampling(bad); }, "top_p must be in [0, 1]", "bad sampling parameters are named");
}

// Seeded sampling through steps gives the tokens Generator::run gives with the same seed, params and prompt,
// alone and with other sequences sharing the steps; reset() makes a sequence replay the same request.
void test_seeded_sampling() {
  auto tiny = make_model(TensorType::F32, 9);
  LlamaModel& model = *tiny->model;
  SamplingParams params;
  params.temperature = 1.3f;
  params.top_k = 50;
  params.top_p = 0.97f;
  params.min_p = 0.01f;
  params.repeat_penalty = 1.1f;
  params.frequency_penalty = 0.2f;
  params.presence_penalty = 0.1f;
  params.seed = 1234;
  const std::vector<int32_t> prompt = prompt_of(9, 4);
  const int n_tokens = 24;

  Sequence solo(model);
  GenerationOptions options;
  options.max_tokens = n_tokens;
  options.sampling = params;
  const GenerationResult expected = Generator(model, solo).run(prompt, options, nullptr, nullptr);

  auto run_steps = [&](Sequence& seq, std::vector<Sequence*> companions) {
    std::vector<int32_t> got;
    std::vector<int32_t> input = prompt;
    for (int i = 0; i < n_tokens; ++i) {
      std::vector<StepEntry> entries{{&seq, input, true}};
      for (Sequence* c : companions) entries.push_back({c, {static_cast<int32_t>(5 + i % 50)}, i % 2 == 0});
      const StepResult r = run_batch_step(model, entries)[0];
      if (r.end_of_generation) break;
      got.push_back(r.token);
      input = {r.token};
    }
    return got;
  };
  Sequence stepped(model);
  stepped.set_sampling(params);
  check(run_steps(stepped, {}) == expected.ids, "seeded sampling through steps equals generate()");

  stepped.reset();
  check(stepped.position() == 0, "reset() empties the sequence");
  std::vector<std::unique_ptr<Sequence>> others;
  std::vector<Sequence*> companions;
  for (int i = 0; i < 3; ++i) {
    others.push_back(std::make_unique<Sequence>(model));
    const std::vector<int32_t> p = prompt_of(3 + 7 * i, 30 + i);
    run_batch_step(model, std::vector<StepEntry>{{others.back().get(), p, false}});
    companions.push_back(others.back().get());
  }
  check(run_steps(stepped, companions) == expected.ids,
        "after reset(), seeded sampling with other sequences in the same steps equals generate()");
}

// fork(): the copy continues exactly like the original would, both stay independent, and the sampler's random
// state and grammar state are copied with it.
void test_fork() {
  auto tiny = make_model(TensorType::F32, 11);
  LlamaModel& model = *tiny->model;
  const std::vector<int32_t> prompt = prompt_of(37, 5);
  Sequence original(model, 64);
  SamplingParams params;
  params.temperature = 1.1f;
  params.seed = 77;
  params.logprobs = 2;
  original.set_sampling(params);
  const StepResult first = run_batch_step(model, std::vector<StepEntry>{{&original, prompt, true}})[0];
  std::unique_ptr<Sequence> copy = original.fork();
  check(copy->position() == original.position() && copy->context_size() == 64, "fork keeps position and context");
  check(relative_l2(copy->logits(), original.logits()) == 0.0, "fork keeps the last logits");
  // Both continue with the same token: same seeded draws, same logits.
  std::vector<int32_t> a_tokens, b_tokens;
  int32_t a_in = first.token, b_in = first.token;
  for (int i = 0; i < 6; ++i) {
    const auto r = run_batch_step(model, std::vector<StepEntry>{{&original, {a_in}, true}, {copy.get(), {b_in}, true}});
    a_tokens.push_back(a_in = r[0].token);
    b_tokens.push_back(b_in = r[1].token);
    check(r[1].logprobs.has_value() && r[1].logprobs->top.size() == 2, "the fork keeps the logprobs setting");
  }
  check(a_tokens == b_tokens, "fork samples the same tokens as the original with the same sampler state");
  // Diverge: each continues with its own token and matches a sequence that ran the same tokens alone.
  std::vector<int32_t> history = prompt;
  history.push_back(first.token);
  history.insert(history.end(), b_tokens.begin(), b_tokens.end() - 1);
  const std::vector<int32_t> three = {3}, four = {4};
  run_batch_step(model, std::vector<StepEntry>{{&original, four, true}, {copy.get(), three, true}});
  std::vector<int32_t> with_three = history, with_four = history;
  with_three.push_back(3);
  with_four.push_back(4);
  check(relative_l2(copy->logits(), run_alone(model, with_three, 1).logits[0]) < 1e-5,
        "the fork continues its own way exactly");
  check(relative_l2(original.logits(), run_alone(model, with_four, 1).logits[0]) < 1e-5,
        "the original is not changed by the fork's tokens");
  original.reset();
  check(copy->position() == static_cast<int>(prompt.size()) + 7, "resetting the original leaves the fork alone");
}

// copy_prefix_from(): a sequence holding another's first n tokens (copied into a different context size and
// back, as the prefix cache does) continues bit-identically to one that evaluated them; bad calls change nothing.
void test_copy_prefix() {
  auto tiny = make_model(TensorType::F32, 13);
  LlamaModel& model = *tiny->model;
  const std::vector<int32_t> prompt = prompt_of(90, 3);
  const int n = 64;
  const std::vector<int32_t> head(prompt.begin(), prompt.begin() + n), tail(prompt.begin() + n, prompt.end());
  Sequence fresh(model, 128);
  model.forward(fresh, head.data(), n, false);
  const std::span<const float> want = model.forward(fresh, tail.data(), static_cast<int>(tail.size()), true);
  const std::vector<float> expected(want.begin(), want.end());

  Sequence source(model, 128);
  model.forward(source, prompt.data(), static_cast<int>(prompt.size()), false);
  Sequence snapshot(model, n);
  snapshot.copy_prefix_from(source, n);
  Sequence restored(model, 128);
  restored.copy_prefix_from(snapshot, n);
  check(restored.position() == n && restored.logits().empty(), "copy_prefix_from sets the position, drops logits");
  const std::span<const float> got = model.forward(restored, tail.data(), static_cast<int>(tail.size()), true);
  check(std::vector<float>(got.begin(), got.end()) == expected,
        "logits at every position after a copied prefix equal those after evaluating it");
  check(snapshot.cache_bytes() == 2 * sizeof(float) * kLayers * n * (kDim / kHeads) * kKvHeads,
        "cache_bytes counts K and V of every layer over the whole context");

  auto throws = [](const std::function<void()>& fn, const std::string& needle) {
    try {
      fn();
    } catch (const EngineError& e) {
      return std::string(e.what()).find(needle) != std::string::npos;
    }
    return false;
  };
  Sequence small(model, 32);
  check(throws([&] { small.copy_prefix_from(source, n); }, "exceeds this sequence's context 32"),
        "a prefix beyond the target's context is refused");
  check(throws([&] { small.copy_prefix_from(snapshot, n + 1); }, "exceeds the source's position 64"),
        "a prefix beyond the source's position is refused");
  check(throws([&] { small.copy_prefix_from(snapshot, -1); }, "is negative"), "a negative length is refused");
  auto other = make_model(TensorType::F32, 14);
  Sequence foreign(*other->model, 32);
  check(throws([&] { foreign.copy_prefix_from(snapshot, 1); }, "another model"), "another model's source is refused");
  check(small.position() == 0 && foreign.position() == 0, "refused copies change nothing");
}

}  // namespace

int main() {
  return run_suites({
      {"mixed steps F32", [] { test_mixed_steps(TensorType::F32, "F32"); }},
      {"fork", test_fork},
      {"copy prefix", test_copy_prefix},
      {"mixed steps F16", [] { test_mixed_steps(TensorType::F16, "F16"); }},
      {"micro-batch split", test_micro_batch_split},
      {"validation", test_validation},
      {"seeded sampling", test_seeded_sampling},
  });
}
