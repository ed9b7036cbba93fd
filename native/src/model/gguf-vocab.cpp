// Reads tokenizer.ggml.* metadata into a VocabSpec.
#include "model/gguf-vocab.h"

#include <algorithm>
#include <limits>
#include <string>

namespace sovren {
namespace {

// Chat-format terminators that end a turn although files do not always list them as EOS/EOT (as in llama.cpp).
constexpr std::string_view kEndOfTurnTexts[] = {
    "<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
};

int32_t token_id_or(const GgufFile& gguf, const std::string& key, int32_t fallback, size_t n_tokens) {
  if (!gguf.has(key)) return fallback;
  const uint64_t id = gguf.get_uint(key);
  if (id >= n_tokens) {
    throw EngineError("GGUF key '" + key + "' = " + std::to_string(id) + " is not a token id (vocabulary has " +
                      std::to_string(n_tokens) + " tokens)");
  }
  return static_cast<int32_t>(id);
}

}  // namespace

VocabSpec read_vocab_spec(const GgufFile& gguf) {
  VocabSpec spec;
  spec.model = std::string(gguf.get_string("tokenizer.ggml.model"));
  spec.pre = std::string(gguf.get_string_or("tokenizer.ggml.pre", "default"));
  for (std::string_view t : gguf.get_string_array("tokenizer.ggml.tokens")) spec.tokens.emplace_back(t);
  const size_t n = spec.tokens.size();
  if (n == 0) throw EngineError("GGUF key 'tokenizer.ggml.tokens' is empty");
  if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    throw EngineError("GGUF key 'tokenizer.ggml.tokens' has too many entries");
  }
  if (gguf.has("tokenizer.ggml.scores")) spec.scores = gguf.get_f32_array("tokenizer.ggml.scores");
  if (gguf.has("tokenizer.ggml.token_type")) spec.token_types = gguf.get_i32_array("tokenizer.ggml.token_type");
  if (gguf.has("tokenizer.ggml.merges")) {
    for (std::string_view m : gguf.get_string_array("tokenizer.ggml.merges")) spec.merges.emplace_back(m);
  }

  const bool spm = spec.model == "llama";
  auto default_id = [&](int32_t id) { return spm && static_cast<size_t>(id) < n ? id : -1; };
  int32_t bos_default = default_id(1), eos_default = default_id(2), unk_default = default_id(0);
  const bool wordpiece = spec.model == "bert";
  if (wordpiece) {
    // BERT wraps every input as [CLS] ... [SEP]; converters state them as cls / "seperator" (sic) ids.
    auto id_of = [&](std::string_view text) {
      const auto it = std::find(spec.tokens.begin(), spec.tokens.end(), text);
      return it == spec.tokens.end() ? -1 : static_cast<int32_t>(it - spec.tokens.begin());
    };
    bos_default = token_id_or(gguf, "tokenizer.ggml.cls_token_id", id_of("[CLS]"), n);
    eos_default = token_id_or(gguf, "tokenizer.ggml.seperator_token_id", id_of("[SEP]"), n);
    unk_default = id_of("[UNK]");
  }
  spec.bos_id = token_id_or(gguf, "tokenizer.ggml.bos_token_id", bos_default, n);
  spec.eos_id = token_id_or(gguf, "tokenizer.ggml.eos_token_id", eos_default, n);
  spec.unk_id = token_id_or(gguf, "tokenizer.ggml.unknown_token_id", unk_default, n);
  spec.pad_id = token_id_or(gguf, "tokenizer.ggml.padding_token_id", -1, n);
  spec.eot_id = token_id_or(gguf, "tokenizer.ggml.eot_token_id", -1, n);
  const int32_t eom_id = token_id_or(gguf, "tokenizer.ggml.eom_token_id", -1, n);
  spec.add_bos = gguf.get_bool_or("tokenizer.ggml.add_bos_token", spm || (wordpiece && spec.bos_id >= 0));
  spec.add_eos = gguf.get_bool_or("tokenizer.ggml.add_eos_token", wordpiece && spec.eos_id >= 0);
  spec.add_space_prefix = gguf.get_bool_or("tokenizer.ggml.add_space_prefix", spm);

  auto add_eog = [&](int32_t id) {
    if (id >= 0 && std::find(spec.eog_ids.begin(), spec.eog_ids.end(), id) == spec.eog_ids.end()) {
      spec.eog_ids.push_back(id);
    }
  };
  add_eog(spec.eos_id);
  add_eog(spec.eot_id);
  add_eog(eom_id);
  for (size_t i = 0; i < n; ++i) {
    for (std::string_view text : kEndOfTurnTexts) {
      if (spec.tokens[i] == text) add_eog(static_cast<int32_t>(i));
    }
  }
  return spec;
}

SpecialTokens special_tokens_of(const VocabSpec& spec) {
  return SpecialTokens{spec.bos_id, spec.eos_id,  spec.unk_id,  spec.pad_id,
                       spec.eot_id, spec.eog_ids, spec.add_bos, spec.add_eos};
}

ModelVocab load_model_vocab(const GgufFile& gguf, uint32_t n_vocab) {
  VocabSpec spec = read_vocab_spec(gguf);
  ModelVocab vocab{nullptr, special_tokens_of(spec), spec.model};
  vocab.tokenizer = std::make_unique<Tokenizer>(std::move(spec));
  if (static_cast<uint32_t>(vocab.tokenizer->n_vocab()) != n_vocab) {
    throw EngineError("tokenizer has " + std::to_string(vocab.tokenizer->n_vocab()) +
                      " tokens but token_embd.weight has " + std::to_string(n_vocab) + " rows");
  }
  return vocab;
}

}  // namespace sovren
