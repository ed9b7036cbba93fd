// The generation loop: prompt -> forward -> sample -> stream the piece -> forward the sampled token, until an
// end-of-generation token, a stop token id, max_tokens, a full context, or cancellation.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sampling/sampler.h"

namespace sovren {

class LlamaModel;
class Sequence;

struct GenerationOptions {
  int max_tokens = 256;
  std::vector<int32_t> stop_ids;  // ids that end generation like an end-of-generation token (not emitted)
  SamplingParams sampling;
};

enum class FinishReason { Stop, Length, Cancelled };
std::string_view finish_reason_name(FinishReason reason);  // "stop", "length", "cancelled"

struct GenerationResult {
  std::vector<int32_t> ids;  // generated tokens, without the stopping token
  std::string text;          // their text: the concatenated step texts plus any flushed remainder
  FinishReason finish_reason = FinishReason::Length;
  int prompt_tokens = 0;
  int completion_tokens = 0;
  double prompt_ms = 0.0;      // time of the prompt's forward pass
  double generation_ms = 0.0;  // time of sampling + decoding the completion
};

// Called once per generated token with its id, the complete UTF-8 text it finishes (may be empty while a
// multi-byte character is still incomplete) and its logprobs (nullptr unless SamplingParams::logprobs >= 0).
using TokenCallback = std::function<void(int32_t id, std::string_view text, const TokenLogprobs* logprobs)>;

class Generator {
 public:
  Generator(LlamaModel& model, Sequence& seq) : model_(model), seq_(seq) {}

  // Appends `prompt` (non-empty) to the sequence, then generates. Sampling penalties see the prompt tokens too.
  // `cancel` is polled before the first token and after each emitted one; when set, the loop ends with
  // FinishReason::Cancelled and the last emitted token stays pending in the sequence.
  GenerationResult run(std::span<const int32_t> prompt, const GenerationOptions& options, const TokenCallback& on_token,
                       const std::atomic<bool>* cancel);

 private:
  LlamaModel& model_;
  Sequence& seq_;
};

}  // namespace sovren
