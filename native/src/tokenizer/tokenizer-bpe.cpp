// Byte-level BPE ("gpt2" vocabularies): pre-tokenizer words merged by rank over GPT-2's byte stand-in characters,
// as llama.cpp's llm_tokenizer_bpe, so ids match models converted with it.
#include <cstdio>
#include <queue>
#include <string>

#include "tokenizer/tokenizer-tables.h"
#include "tokenizer/unicode-category.h"

namespace sovren {
using namespace tokenizer_internal;

void Tokenizer::Tables::encode_bpe_text(std::string_view text, std::vector<int32_t>& out) const {
  std::vector<TextSpan> words;
  split_bpe_words(text, pre_tokenizer, words);
  for (const TextSpan& word : words) encode_bpe_word(text.substr(word.offset, word.length), out);
}

void Tokenizer::Tables::encode_bpe_word(std::string_view word, std::vector<int32_t>& out) const {
  if (ignore_merges) {
    std::string mapped;
    for (const char ch : word) mapped += byte_level_chars[static_cast<uint8_t>(ch)];
    const int32_t id = find_id(token_ids, mapped);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  struct Symbol {
    int32_t id, prev, next;
    uint8_t first_byte;
    bool alive;
  };
  struct Candidate {
    int32_t rank, left, right, left_id, right_id, result;
  };
  const auto lower_priority = [](const Candidate& a, const Candidate& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  for (size_t i = 0; i < word.size(); ++i) {
    const uint8_t byte = static_cast<uint8_t>(word[i]);
    const int32_t index = static_cast<int32_t>(i);
    symbols.push_back({byte_token_ids[byte], index - 1, index + 1, byte, true});
  }
  symbols.back().next = -1;
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(lower_priority)> queue(lower_priority);
  const auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const int32_t left_id = symbols[static_cast<size_t>(left)].id;
    const int32_t right_id = symbols[static_cast<size_t>(right)].id;
    if (left_id < 0 || right_id < 0) return;
    const auto it = merges.find(merge_key(left_id, right_id));
    if (it == merges.end()) return;
    queue.push({it->second.rank, left, right, left_id, right_id, it->second.result});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_add(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = symbols[static_cast<size_t>(c.left)];
    Symbol& right = symbols[static_cast<size_t>(c.right)];
    if (!left.alive || !right.alive || left.next != c.right || left.id != c.left_id || right.id != c.right_id) {
      continue;  // stale
    }
    left.id = c.result;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = c.left;
    try_add(left.prev, c.left);
    try_add(c.left, left.next);
  }
  for (int32_t i = 0; i >= 0; i = symbols[static_cast<size_t>(i)].next) {
    const Symbol& symbol = symbols[static_cast<size_t>(i)];
    if (symbol.id >= 0) {
      out.push_back(symbol.id);
    } else if (spec.unk_id >= 0) {
      out.push_back(spec.unk_id);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02X", static_cast<unsigned>(symbol.first_byte));
      throw EngineError(std::string("cannot encode byte ") + hex +
                        ": the BPE vocabulary has no token for it and no unknown token");
    }
  }
}

std::string Tokenizer::Tables::byte_level_decode(const std::string& text) const {
  std::string bytes;
  bytes.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    const Utf8Char ch = decode_utf8_char(text, offset);
    const auto it =
        ch.codepoint == kInvalidCodepoint ? byte_level_inverse.end() : byte_level_inverse.find(ch.codepoint);
    if (it != byte_level_inverse.end()) {
      bytes.push_back(static_cast<char>(it->second));
    } else {
      bytes.append(text, offset, ch.length);  // not a byte stand-in: keep the text as written
    }
    offset += ch.length;
  }
  return bytes;
}

}  // namespace sovren
