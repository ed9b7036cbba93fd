// SentencePiece ("llama" vocabularies): score-driven bigram merging with byte fallback, as llama.cpp's
// llm_tokenizer_spm, so ids match models converted with it.
#include <cstdio>
#include <queue>
#include <string>

#include "tokenizer/tokenizer-tables.h"
#include "tokenizer/unicode-category.h"

namespace sovren {
using namespace tokenizer_internal;

void Tokenizer::Tables::encode_spm_text(std::string_view text, bool after_special, std::vector<int32_t>& out) const {
  std::string escaped;
  escaped.reserve(text.size() * 2 + 3);
  if (spec.add_space_prefix && after_special) escaped += kSpmSpace;
  for (const char ch : text) {
    if (ch == ' ') {
      escaped += kSpmSpace;
    } else {
      escaped += ch;
    }
  }
  encode_sentencepiece(escaped, out);
}

void Tokenizer::Tables::push_byte_fallback(std::string_view symbol, std::vector<int32_t>& out) const {
  for (const char ch : symbol) {
    const int32_t id = byte_token_ids[static_cast<uint8_t>(ch)];
    if (id >= 0) {
      out.push_back(id);
    } else if (spec.unk_id >= 0) {
      out.push_back(spec.unk_id);
      return;  // one <unk> per unknown character, as SentencePiece does
    } else {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02X", static_cast<unsigned>(static_cast<uint8_t>(ch)));
      throw EngineError(std::string("cannot encode byte ") + hex +
                        ": the vocabulary has no byte token for it and no unknown token");
    }
  }
}

// `text` already has spaces replaced by "▁" and the prefix added.
void Tokenizer::Tables::encode_sentencepiece(std::string_view text, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t prev, next;
    size_t offset, length;  // length 0: merged into its left neighbour
  };
  struct Bigram {
    int32_t left, right;
    float score;
    size_t length;
  };
  const auto lower_priority = [](const Bigram& a, const Bigram& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    const size_t length = decode_utf8_char(text, offset).length;
    const int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({index - 1, index + 1, offset, length});
    offset += length;
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  std::priority_queue<Bigram, std::vector<Bigram>, decltype(lower_priority)> queue(lower_priority);
  const auto try_add_bigram = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[static_cast<size_t>(left)];
    const Symbol& r = symbols[static_cast<size_t>(right)];
    const std::string_view merged = text.substr(l.offset, l.length + r.length);
    const int32_t id = find_id(spm_piece_ids, merged);
    if (id < 0) return;
    queue.push({left, right, spec.scores[static_cast<size_t>(id)], merged.size()});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_add_bigram(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));

  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[static_cast<size_t>(bigram.left)];
    Symbol& right = symbols[static_cast<size_t>(bigram.right)];
    // Stale entry: one side was merged elsewhere since this bigram was queued.
    if (left.length == 0 || right.length == 0 || left.length + right.length != bigram.length) continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = bigram.left;
    try_add_bigram(left.prev, bigram.left);
    try_add_bigram(bigram.left, left.next);
  }

  for (int32_t i = 0; i >= 0; i = symbols[static_cast<size_t>(i)].next) {
    const Symbol& symbol = symbols[static_cast<size_t>(i)];
    const std::string_view piece = text.substr(symbol.offset, symbol.length);
    const int32_t id = find_id(spm_piece_ids, piece);
    if (id >= 0) {
      out.push_back(id);
    } else {
      push_byte_fallback(piece, out);  // only single characters can be missing: merges always make tokens
    }
  }
}

}  // namespace sovren
