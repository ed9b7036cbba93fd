// Whisper's text encoder (tiktoken's byte-level BPE over the ranks stored in the model file): GPT-2 pre-tokenizer
// words, then within each word the adjacent pair whose concatenation has the lowest rank is merged until no merge is
// left. Used for prompts; decoding is the concatenation of token bytes (whisper_token_bytes).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sovren {

class WhisperTokenizer {
 public:
  // `vocab` holds the regular tokens' bytes in rank order (WhisperFile::vocab()); the views must outlive this.
  explicit WhisperTokenizer(const std::vector<std::string_view>& vocab);
  // Token ids of `text` (any bytes); throws EngineError when a byte has no token of its own.
  std::vector<int32_t> encode(std::string_view text) const;

 private:
  std::unordered_map<std::string_view, int32_t> ranks_;
};

}  // namespace sovren
