// tiktoken-style byte-pair encoding (see whisper-tokenizer.h).
#include "whisper/whisper-tokenizer.h"

#include <limits>

#include "core/error.h"
#include "tokenizer/bpe-pre-tokenizer.h"

namespace sovren {

WhisperTokenizer::WhisperTokenizer(const std::vector<std::string_view>& vocab) {
  ranks_.reserve(vocab.size());
  for (size_t i = 0; i < vocab.size(); ++i) ranks_.emplace(vocab[i], static_cast<int32_t>(i));  // first rank wins
}

std::vector<int32_t> WhisperTokenizer::encode(std::string_view text) const {
  std::vector<TextSpan> words;
  split_bpe_words(text, BpePreTokenizer::kGpt2, words);
  std::vector<int32_t> ids;
  std::vector<size_t> starts;  // part boundaries within the word
  constexpr int32_t kNone = std::numeric_limits<int32_t>::max();
  for (const TextSpan& span : words) {
    const std::string_view word = text.substr(span.offset, span.length);
    starts.resize(word.size() + 1);
    for (size_t i = 0; i <= word.size(); ++i) starts[i] = i;
    const auto rank_of = [&](size_t a, size_t b) {  // rank of parts a .. b-1 merged (b exclusive), or kNone
      const auto it = ranks_.find(word.substr(starts[a], starts[b] - starts[a]));
      return it == ranks_.end() ? kNone : it->second;
    };
    for (;;) {
      int32_t best = kNone;
      size_t at = 0;
      for (size_t i = 0; i + 2 < starts.size(); ++i) {
        const int32_t r = rank_of(i, i + 2);
        if (r < best) {
          best = r;
          at = i;
        }
      }
      if (best == kNone) break;
      starts.erase(starts.begin() + static_cast<long>(at) + 1);
    }
    for (size_t i = 0; i + 1 < starts.size(); ++i) {
      const int32_t r = rank_of(i, i + 1);
      if (r == kNone) {
        throw EngineError("whisper: the vocabulary has no token for byte " +
                          std::to_string(static_cast<unsigned char>(word[starts[i]])));
      }
      ids.push_back(r);
    }
  }
  return ids;
}

}  // namespace sovren
