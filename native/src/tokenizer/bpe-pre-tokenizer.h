// Splits text into the "words" that byte-level BPE merges within, reproducing the pre-tokenizer regexes of
// GPT-2, Llama 3 and Qwen2 with hand-written scanners (no regex engine; linear in the text length).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sovren {

enum class BpePreTokenizer {
  kGpt2,        // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kLlama3,      // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
                // ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  kQwen2,       // as kLlama3 but \p{N} one digit at a time
  kGpt2Digits,  // \p{N} split first (one word per digit), then kGpt2 on the rest (SmolLM, StarCoder)
};

// Maps tokenizer.ggml.pre to a scanner; throws EngineError naming an unsupported value.
BpePreTokenizer bpe_pre_tokenizer_from_name(const std::string& pre);

struct TextSpan {
  size_t offset;  // bytes
  size_t length;  // bytes, > 0
};

// Appends the words of `text` to `words`; the spans cover every byte of `text` exactly once, in order.
void split_bpe_words(std::string_view text, BpePreTokenizer kind, std::vector<TextSpan>& words);

}  // namespace sovren
