// Token-by-token generation over one sequence, streaming complete UTF-8 pieces to a callback.
#include "model/generator.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "model/llama-model.h"
#include "model/sequence.h"
#include "tokenizer/tokenizer.h"

namespace sovren {
namespace {

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::string_view finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::Stop:
      return "stop";
    case FinishReason::Length:
      return "length";
    case FinishReason::Cancelled:
      return "cancelled";
  }
  return "unknown";
}

GenerationResult Generator::run(std::span<const int32_t> prompt, const GenerationOptions& options,
                                const TokenCallback& on_token, const std::atomic<bool>* cancel) {
  // The previous generation's last token joins this prompt, so the cache ends up holding the whole exchange.
  std::vector<int32_t> input = seq_.pending();
  input.insert(input.end(), prompt.begin(), prompt.end());
  if (input.empty()) throw EngineError("generation needs a prompt of at least one token");
  if (options.max_tokens < 0) throw EngineError("max_tokens must not be negative");
  const Tokenizer& tok = model_.tokenizer();
  auto is_cancelled = [&] { return cancel != nullptr && cancel->load(std::memory_order_relaxed); };

  GenerationResult result;
  result.prompt_tokens = static_cast<int>(prompt.size());
  Sampler sampler(options.sampling, model_.n_vocab(), options.sampling.grammar.empty() ? nullptr : model_.token_trie());
  for (int32_t id : input) sampler.accept(id);

  const auto prompt_start = std::chrono::steady_clock::now();
  std::span<const float> logits = model_.forward(seq_, input.data(), static_cast<int>(input.size()), false);
  seq_.pending().clear();
  result.prompt_ms = ms_since(prompt_start);

  const auto gen_start = std::chrono::steady_clock::now();
  StreamingDetokenizer detok(tok);
  result.finish_reason = FinishReason::Length;
  // Cancellation is checked before the first token and then after each emitted token, before its pass: a
  // cancelled generation therefore always leaves its last token pending, so the sequence can simply continue.
  if (is_cancelled()) result.finish_reason = FinishReason::Cancelled;
  while (result.finish_reason != FinishReason::Cancelled && static_cast<int>(result.ids.size()) < options.max_tokens) {
    const int32_t id = sampler.sample(logits.data());
    sampler.accept(id);
    if (tok.is_eog(id) || std::find(options.stop_ids.begin(), options.stop_ids.end(), id) != options.stop_ids.end()) {
      result.finish_reason = FinishReason::Stop;
      break;
    }
    result.ids.push_back(id);
    const std::string piece = detok.push(id);
    result.text += piece;
    if (on_token) on_token(id, piece, sampler.last_logprobs());
    // Leave the token pending rather than run a pass whose logits nobody will read (or that the full context
    // cannot take); the next generation on this sequence evaluates it first.
    const bool at_limit =
        static_cast<int>(result.ids.size()) >= options.max_tokens || seq_.position() >= seq_.context_size();
    if (at_limit || is_cancelled()) {
      seq_.pending().push_back(id);
      if (!at_limit) result.finish_reason = FinishReason::Cancelled;
      break;
    }
    logits = model_.forward(seq_, &id, 1, false);
  }
  result.text += detok.flush();
  result.completion_tokens = static_cast<int>(result.ids.size());
  result.generation_ms = ms_since(gen_start);
  return result;
}

}  // namespace sovren
