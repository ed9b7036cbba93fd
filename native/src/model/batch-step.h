// One continuous-batching step: several sequences' new tokens (prompt chunks or the token each sampled last step)
// run through one forward pass, then every entry that asks for it samples its next token with its sequence's own
// sampler and detokenises it with its own streaming detokenizer.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sampling/sampler.h"

namespace sovren {

class LlamaModel;
class Sequence;

struct StepEntry {
  Sequence* seq = nullptr;
  std::vector<int32_t> tokens;  // appended at the sequence's position (after any tokens a generation left pending)
  bool sample = false;
};

struct StepResult {
  int32_t token = -1;              // -1 when the entry did not sample
  std::string text;                // UTF-8 text the token completes; empty for end-of-generation tokens
  bool end_of_generation = false;  // the token is one of the model's EOS/EOT ids
  // Set when the sequence's sampler asks for logprobs (SamplingParams::logprobs >= 0).
  std::optional<TokenLogprobs> logprobs;
};

// Validates every entry before touching any sequence (errors name "batch entry i"), then runs the pass. Every
// token fed is recorded in its sequence's sampler history, so penalties see prompts and earlier samples exactly
// as Generator::run does; a sampled token is recorded when the caller feeds it back in the next step.
std::vector<StepResult> run_batch_step(LlamaModel& model, std::span<const StepEntry> entries);

}  // namespace sovren
