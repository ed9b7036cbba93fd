// The batched step (see batch-step.h).
#include "model/batch-step.h"

#include "core/error.h"
#include "model/llama-model.h"
#include "model/sequence.h"

namespace sovren {

std::vector<StepResult> run_batch_step(LlamaModel& model, std::span<const StepEntry> entries) {
  // Pending tokens (left by a generate() that stopped at its limit) enter the cache first, as in evaluate().
  std::vector<std::vector<int32_t>> inputs(entries.size());
  std::vector<LlamaModel::BatchItem> items(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const StepEntry& entry = entries[i];
    if (entry.tokens.empty()) throw EngineError("batch entry " + std::to_string(i) + ": needs at least one token");
    if (entry.seq != nullptr && !entry.seq->pending().empty()) {
      inputs[i] = entry.seq->pending();
      inputs[i].insert(inputs[i].end(), entry.tokens.begin(), entry.tokens.end());
    }
    const std::vector<int32_t>& input = inputs[i].empty() ? entry.tokens : inputs[i];
    items[i] = {entry.seq, input.data(), static_cast<int>(input.size()), entry.sample};
  }
  if (entries.empty()) return {};
  model.forward_batch(items);  // validates everything before it changes anything

  const Tokenizer& tokenizer = model.tokenizer();
  std::vector<StepResult> results(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    Sequence& seq = *entries[i].seq;
    seq.pending().clear();
    Sampler& sampler = seq.sampler();
    for (int t = 0; t < items[i].n; ++t) sampler.accept(items[i].tokens[t]);
    if (!entries[i].sample) continue;
    StepResult& result = results[i];
    result.token = sampler.sample(seq.logits().data());
    if (const TokenLogprobs* lp = sampler.last_logprobs()) result.logprobs = *lp;
    result.end_of_generation = tokenizer.is_eog(result.token);
    if (!result.end_of_generation) result.text = seq.detokenizer().push(result.token);
  }
  return results;
}

}  // namespace sovren
