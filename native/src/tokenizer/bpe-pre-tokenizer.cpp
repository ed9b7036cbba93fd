// Hand-written scanners equivalent to the BPE pre-tokenizer regexes (see bpe-pre-tokenizer.h). Each scanner
// tries the regex alternatives in order at the current position, as a backtracking regex engine would.
#include "tokenizer/bpe-pre-tokenizer.h"

#include <cstdint>

#include "core/error.h"
#include "tokenizer/unicode-category.h"

namespace sovren {
namespace {

enum CharClass : uint8_t { kOther = 0, kLetter = 1, kNumber = 2, kSpace = 4, kOutside = 8 };

struct DecodedText {
  std::vector<uint32_t> codepoints;
  std::vector<uint8_t> classes;
  std::vector<size_t> byte_offsets;  // one per code point plus the end offset
};

DecodedText decode_text(std::string_view text) {
  DecodedText decoded;
  decoded.codepoints.reserve(text.size());
  decoded.classes.reserve(text.size());
  decoded.byte_offsets.reserve(text.size() + 1);
  for (size_t offset = 0; offset < text.size();) {
    const Utf8Char ch = decode_utf8_char(text, offset);
    uint8_t cls = kOther;  // invalid bytes behave like punctuation: they match [^\s\p{L}\p{N}]
    if (ch.codepoint != kInvalidCodepoint) {
      if (is_unicode_letter(ch.codepoint))
        cls = kLetter;
      else if (is_unicode_number(ch.codepoint))
        cls = kNumber;
      else if (is_unicode_whitespace(ch.codepoint))
        cls = kSpace;
    }
    decoded.codepoints.push_back(ch.codepoint);
    decoded.classes.push_back(cls);
    decoded.byte_offsets.push_back(offset);
    offset += ch.length;
  }
  decoded.byte_offsets.push_back(text.size());
  return decoded;
}

// Scans code points [begin, end) of a decoded text; everything outside reads as "no character".
class WordScanner {
 public:
  WordScanner(const DecodedText& text, size_t begin, size_t end, std::vector<TextSpan>& words)
      : text_(text), begin_(begin), end_(end), words_(words), word_start_(begin) {}

  void scan_gpt2() {
    for (size_t pos = begin_; pos < end_;) {
      const uint32_t c = cp(pos);
      if (size_t n = contraction_length(pos, /*case_insensitive=*/false)) {
        pos = emit(pos + n);
        continue;
      }
      const size_t after_space = c == ' ' ? pos + 1 : pos;
      const uint8_t cls = class_at(after_space);
      if (in_range(after_space) && (cls == kLetter || cls == kNumber || cls == kOther)) {
        // ' ?\p{L}+', ' ?\p{N}+' and ' ?[^\s\p{L}\p{N}]+' share the shape "optional space, then a run of one class".
        size_t p = after_space;
        while (in_range(p) && class_at(p) == cls) ++p;
        pos = emit(p);
        continue;
      }
      pos = emit(pos + whitespace_match_length(pos, /*newline_alternative=*/false));
    }
  }

  void scan_llama3(size_t max_digits) {
    for (size_t pos = begin_; pos < end_;) {
      const uint32_t c = cp(pos);
      const uint8_t cls = class_at(pos);
      if (size_t n = contraction_length(pos, /*case_insensitive=*/true)) {
        pos = emit(pos + n);
        continue;
      }
      // [^\r\n\p{L}\p{N}]?\p{L}+
      if (cls == kLetter ||
          (c != '\r' && c != '\n' && cls != kNumber && in_range(pos + 1) && class_at(pos + 1) == kLetter)) {
        size_t p = pos + 1;
        while (in_range(p) && class_at(p) == kLetter) ++p;
        pos = emit(p);
        continue;
      }
      // \p{N}{1,N}
      if (cls == kNumber) {
        size_t p = pos;
        while (p < end_ && p - pos < max_digits && class_at(p) == kNumber) ++p;
        pos = emit(p);
        continue;
      }
      // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
      const size_t after_space = c == ' ' ? pos + 1 : pos;
      if (in_range(after_space) && class_at(after_space) == kOther) {
        size_t p = after_space;
        while (in_range(p) && class_at(p) == kOther) ++p;
        while (in_range(p) && (cp(p) == '\r' || cp(p) == '\n')) ++p;
        pos = emit(p);
        continue;
      }
      pos = emit(pos + whitespace_match_length(pos, /*newline_alternative=*/true));
    }
  }

 private:
  bool in_range(size_t pos) const { return pos >= begin_ && pos < end_; }
  uint32_t cp(size_t pos) const { return in_range(pos) ? text_.codepoints[pos] : kInvalidCodepoint; }
  // kOutside past either end of the scanned range, so lookahead never needs its own bounds check.
  uint8_t class_at(size_t pos) const { return in_range(pos) ? text_.classes[pos] : static_cast<uint8_t>(kOutside); }

  // Closes the word [word_start_, end) and returns `end` as the next scan position.
  size_t emit(size_t end) {
    const size_t from = text_.byte_offsets[word_start_];
    const size_t to = text_.byte_offsets[end];
    if (to > from) words_.push_back({from, to - from});
    word_start_ = end;
    return end;
  }

  size_t contraction_length(size_t pos, bool case_insensitive) const {
    if (cp(pos) != '\'') return 0;
    const auto lower = [&](uint32_t c) { return case_insensitive && c >= 'A' && c <= 'Z' ? c + 32 : c; };
    const uint32_t c1 = lower(cp(pos + 1));
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
    const uint32_t c2 = lower(cp(pos + 2));
    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
    return 0;
  }

  // The whitespace alternatives: [\s*[\r\n]+ |] \s+(?!\S) | \s+ ; a lone non-matching character is its own word.
  size_t whitespace_match_length(size_t pos, bool newline_alternative) const {
    size_t run = 0;
    size_t after_last_newline = 0;
    while (in_range(pos + run) && class_at(pos + run) == kSpace) {
      const uint32_t c = cp(pos + run);
      ++run;
      if (c == '\r' || c == '\n') after_last_newline = run;
    }
    if (run == 0) return 1;
    if (newline_alternative && after_last_newline > 0) return after_last_newline;
    // Before a non-space character the last space is left to prefix the next word.
    if (run > 1 && in_range(pos + run)) return run - 1;
    return run;
  }

  const DecodedText& text_;
  size_t begin_;
  size_t end_;
  std::vector<TextSpan>& words_;
  size_t word_start_;
};

}  // namespace

BpePreTokenizer bpe_pre_tokenizer_from_name(const std::string& pre) {
  if (pre.empty() || pre == "default" || pre == "gpt2" || pre == "gpt-2") return BpePreTokenizer::kGpt2;
  if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3" || pre == "dbrx" || pre == "smaug-bpe") {
    return BpePreTokenizer::kLlama3;
  }
  if (pre == "qwen2" || pre == "deepseek-r1-qwen") return BpePreTokenizer::kQwen2;
  if (pre == "smollm" || pre == "starcoder" || pre == "refact" || pre == "codeshell") {
    return BpePreTokenizer::kGpt2Digits;
  }
  throw EngineError("unsupported BPE pre-tokenizer '" + pre +
                    "' (tokenizer.ggml.pre); supported: default, gpt2, llama-bpe, qwen2, smollm, starcoder");
}

void split_bpe_words(std::string_view text, BpePreTokenizer kind, std::vector<TextSpan>& words) {
  if (text.empty()) return;
  const DecodedText decoded = decode_text(text);
  const size_t n = decoded.codepoints.size();
  switch (kind) {
    case BpePreTokenizer::kGpt2:
      WordScanner(decoded, 0, n, words).scan_gpt2();
      break;
    case BpePreTokenizer::kLlama3:
      WordScanner(decoded, 0, n, words).scan_llama3(3);
      break;
    case BpePreTokenizer::kQwen2:
      WordScanner(decoded, 0, n, words).scan_llama3(1);
      break;
    case BpePreTokenizer::kGpt2Digits: {
      size_t run_start = 0;
      for (size_t i = 0; i <= n; ++i) {
        if (i < n && decoded.classes[i] != kNumber) continue;
        if (i > run_start) WordScanner(decoded, run_start, i, words).scan_gpt2();
        if (i < n) words.push_back({decoded.byte_offsets[i], decoded.byte_offsets[i + 1] - decoded.byte_offsets[i]});
        run_start = i + 1;
      }
      break;
    }
  }
}

}  // namespace sovren
