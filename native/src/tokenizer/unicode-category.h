// Unicode character classes (\p{L}, \p{N}, \s) and UTF-8 decoding used by the tokenizers' pre-tokenizers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sovren {

struct CodepointRange {
  uint32_t first;
  uint32_t last;  // inclusive
};

namespace unicode_tables {  // generated: unicode-tables.cpp
extern const CodepointRange kLetterRanges[];
extern const size_t kLetterRangesCount;
extern const CodepointRange kNumberRanges[];
extern const size_t kNumberRangesCount;
extern const CodepointRange kWhitespaceRanges[];
extern const size_t kWhitespaceRangesCount;
}  // namespace unicode_tables

bool is_unicode_letter(uint32_t cp);      // \p{L}
bool is_unicode_number(uint32_t cp);      // \p{N}
bool is_unicode_whitespace(uint32_t cp);  // \s (Unicode White_Space)

// One decoded UTF-8 character. Invalid or truncated sequences decode as a single byte with
// kInvalidCodepoint so that callers keep every input byte (tokenization must stay lossless).
inline constexpr uint32_t kInvalidCodepoint = 0xFFFFFFFFu;
struct Utf8Char {
  uint32_t codepoint;
  uint32_t length;  // bytes consumed, >= 1
};
Utf8Char decode_utf8_char(std::string_view text, size_t offset);

// Length of the valid UTF-8 sequence starting at `offset`: 0 if the bytes there can never form one,
// or -1 if they are a valid but incomplete prefix that runs off the end of `text`.
int utf8_complete_length(std::string_view text, size_t offset);

void append_utf8(std::string& out, uint32_t codepoint);

}  // namespace sovren
