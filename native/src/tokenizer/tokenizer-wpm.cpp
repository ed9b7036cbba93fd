// WordPiece ("bert" vocabularies, as llama.cpp converts them: a word-initial piece carries the phantom space "▁",
// a continuation piece has no "##"): the text is lower-cased and split at whitespace, and around punctuation and
// CJK characters, then each word is cut greedily into the longest pieces in the vocabulary; a word with no cut
// becomes [UNK]. As llama.cpp's llm_tokenizer_wpm, except that without Unicode case and NFD tables only ASCII and
// Latin-1 letters are lower-cased and accents are kept (HF's BertTokenizer strips them).
#include <algorithm>
#include <string>

#include "tokenizer/tokenizer-tables.h"
#include "tokenizer/unicode-category.h"

namespace sovren {
using namespace tokenizer_internal;

namespace {

uint32_t to_lower(uint32_t cp) {
  if (cp >= 'A' && cp <= 'Z') return cp + 32;
  if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 32;  // Latin-1 capitals
  return cp;
}

bool is_cjk(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2CEAF) || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F) ||
         (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFF00 && cp <= 0xFFEF);
}

bool is_control(uint32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0xFFFD; }

}  // namespace

void Tokenizer::Tables::encode_wordpiece(std::string_view text, std::vector<int32_t>& out) const {
  // Pre-tokenize into words (each a single punctuation mark / CJK character, or a run of other characters).
  std::vector<std::string> words(1);
  for (size_t at = 0; at < text.size();) {
    const Utf8Char ch = decode_utf8_char(text, at);
    at += ch.length;
    const uint32_t cp = ch.codepoint;
    if (cp == kInvalidCodepoint || is_unicode_whitespace(cp)) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    if (cp == 0 || is_control(cp)) continue;
    std::string s;
    append_utf8(s, to_lower(cp));
    const bool letter_or_digit = is_unicode_letter(cp) || is_unicode_number(cp);
    if ((!letter_or_digit && cp < 0x2000) || (cp >= 0x2000 && cp <= 0x2BFF) || is_cjk(cp)) {
      if (!words.back().empty()) words.emplace_back();
      words.back() = std::move(s);
      words.emplace_back();
    } else {
      words.back() += s;
    }
  }
  for (const std::string& word : words) {
    if (word.empty()) continue;
    const std::string phantom = std::string(kSpmSpace) + word;
    const size_t first_token = out.size();
    for (size_t i = 0; i < phantom.size();) {
      size_t matched = 0;
      for (size_t len = std::min(phantom.size() - i, max_token_bytes); len > 0; --len) {
        const int32_t id = find_id(wordpiece_ids, std::string_view(phantom).substr(i, len));
        if (id >= 0) {
          out.push_back(id);
          matched = len;
          break;
        }
      }
      if (matched == 0) {  // no cut: the whole word is unknown
        out.resize(first_token);
        break;
      }
      i += matched;
    }
    if (out.size() == first_token && spec.unk_id >= 0) out.push_back(spec.unk_id);
  }
}

}  // namespace sovren
