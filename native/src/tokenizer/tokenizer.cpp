// The tokenizer over a GGUF vocabulary: the tables built from it, special tokens, dispatch to SentencePiece
// (tokenizer-spm.cpp) or byte-level BPE (tokenizer-bpe.cpp), decoding, and the streaming detokenizer.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <queue>
#include <unordered_map>

#include "core/error.h"
#include "tokenizer/bpe-pre-tokenizer.h"
#include "tokenizer/tokenizer-tables.h"
#include "tokenizer/unicode-category.h"

namespace sovren {
using namespace tokenizer_internal;

namespace {

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the rest to U+0100.. in byte order, so
// every byte has a visible, non-space character in the vocabulary.
std::array<uint32_t, 256> byte_level_codepoints() {
  std::array<uint32_t, 256> map{};
  uint32_t next_extra = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    map[b] = printable ? b : next_extra++;
  }
  return map;
}

std::string describe_token(const std::string& text) {
  return "'" + (text.size() > 40 ? text.substr(0, 40) + "..." : text) + "'";
}

}  // namespace

void Tokenizer::Tables::add_special(const std::string& text, int32_t id) {
  int32_t node = 0;
  for (const char ch : text) {
    const uint8_t byte = static_cast<uint8_t>(ch);
    int32_t child = -1;
    for (const auto& [b, index] : special_trie[static_cast<size_t>(node)].children) {
      if (b == byte) child = index;
    }
    if (child < 0) {
      child = static_cast<int32_t>(special_trie.size());
      special_trie[static_cast<size_t>(node)].children.emplace_back(byte, child);
      special_trie.emplace_back();
    }
    node = child;
  }
  if (special_trie[static_cast<size_t>(node)].token < 0) special_trie[static_cast<size_t>(node)].token = id;
  special_first_byte[static_cast<uint8_t>(text[0])] = true;
}

// Longest special token starting at `offset`: {id, length}, or {-1, 0}.
std::pair<int32_t, size_t> Tokenizer::Tables::match_special(std::string_view text, size_t offset) const {
  std::pair<int32_t, size_t> best{-1, 0};
  int32_t node = 0;
  for (size_t i = offset; i < text.size(); ++i) {
    const uint8_t byte = static_cast<uint8_t>(text[i]);
    int32_t child = -1;
    for (const auto& [b, index] : special_trie[static_cast<size_t>(node)].children) {
      if (b == byte) child = index;
    }
    if (child < 0) break;
    node = child;
    if (special_trie[static_cast<size_t>(node)].token >= 0)
      best = {special_trie[static_cast<size_t>(node)].token, i + 1 - offset};
  }
  return best;
}

void Tokenizer::Tables::encode_text(std::string_view text, bool after_special, std::vector<int32_t>& out) const {
  if (sentencepiece) {
    encode_spm_text(text, after_special, out);
  } else if (wordpiece) {
    encode_wordpiece(text, out);
  } else {
    encode_bpe_text(text, out);
  }
}

void Tokenizer::Tables::build(VocabSpec&& input) {
  spec = std::move(input);
  if (spec.model == "llama") {
    sentencepiece = true;
  } else if (spec.model == "gpt2") {
    sentencepiece = false;
    pre_tokenizer = bpe_pre_tokenizer_from_name(spec.pre);
    ignore_merges = pre_tokenizer == BpePreTokenizer::kLlama3;
  } else if (spec.model == "bert") {
    wordpiece = true;
  } else {
    throw EngineError("unsupported tokenizer model '" + spec.model +
                      "' (tokenizer.ggml.model); supported: llama (SentencePiece), gpt2 (byte-level BPE), " +
                      "bert (WordPiece)");
  }
  const size_t n = spec.tokens.size();
  if (n == 0) throw EngineError("tokenizer.ggml.tokens is empty");
  if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    throw EngineError("tokenizer.ggml.tokens has " + std::to_string(n) + " entries, more than int32 ids can address");
  }
  const std::string n_text = std::to_string(n);
  if (spec.scores.empty()) spec.scores.assign(n, 0.0f);
  if (spec.scores.size() != n) {
    throw EngineError("tokenizer.ggml.scores has " + std::to_string(spec.scores.size()) +
                      " entries but tokenizer.ggml.tokens has " + n_text);
  }
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(spec.scores[i])) throw EngineError("tokenizer.ggml.scores[" + std::to_string(i) + "] is NaN");
  }
  const auto check_special_id = [&](const char* key, int32_t id) {
    if (id < -1 || id >= static_cast<int64_t>(n)) {
      throw EngineError(std::string(key) + " = " + std::to_string(id) + " is out of range (vocabulary has " + n_text +
                        " tokens)");
    }
  };
  check_special_id("tokenizer.ggml.bos_token_id", spec.bos_id);
  check_special_id("tokenizer.ggml.eos_token_id", spec.eos_id);
  check_special_id("tokenizer.ggml.unknown_token_id", spec.unk_id);
  check_special_id("tokenizer.ggml.padding_token_id", spec.pad_id);
  check_special_id("tokenizer.ggml.eot_token_id", spec.eot_id);
  for (const int32_t id : spec.eog_ids) {
    if (id < 0 || id >= static_cast<int64_t>(n)) {
      throw EngineError("end-of-generation token id " + std::to_string(id) + " is out of range (vocabulary has " +
                        n_text + " tokens)");
    }
  }
  if (spec.add_bos && spec.bos_id < 0)
    throw EngineError("tokenizer.ggml.add_bos_token is set but there is no bos_token_id");
  if (spec.add_eos && spec.eos_id < 0)
    throw EngineError("tokenizer.ggml.add_eos_token is set but there is no eos_token_id");
  if (spec.token_types.empty()) {
    // No types in the file: the declared special ids are the only control tokens we can know of.
    spec.token_types.assign(n, static_cast<int32_t>(TokenType::NORMAL));
    for (const int32_t id : {spec.bos_id, spec.eos_id, spec.pad_id, spec.eot_id}) {
      if (id >= 0) spec.token_types[static_cast<size_t>(id)] = static_cast<int32_t>(TokenType::CONTROL);
    }
    for (const int32_t id : spec.eog_ids)
      spec.token_types[static_cast<size_t>(id)] = static_cast<int32_t>(TokenType::CONTROL);
    if (spec.unk_id >= 0) spec.token_types[static_cast<size_t>(spec.unk_id)] = static_cast<int32_t>(TokenType::UNKNOWN);
  }
  if (spec.token_types.size() != n) {
    throw EngineError("tokenizer.ggml.token_type has " + std::to_string(spec.token_types.size()) +
                      " entries but tokenizer.ggml.tokens has " + n_text);
  }
  for (size_t i = 0; i < n; ++i) {
    if (spec.token_types[i] < 0 || spec.token_types[i] > static_cast<int32_t>(TokenType::BYTE)) {
      throw EngineError("tokenizer.ggml.token_type[" + std::to_string(i) +
                        "] = " + std::to_string(spec.token_types[i]) + " is not a valid token type (0..6)");
    }
  }

  token_ids.reserve(n);
  byte_token_ids.fill(-1);
  pieces.resize(n);
  is_special.assign(n, 0);
  starts_fragment.assign(n, 0);
  is_eog.assign(n, 0);
  const std::array<uint32_t, 256> byte_codepoints = byte_level_codepoints();
  if (!sentencepiece && !wordpiece) {
    for (uint32_t b = 0; b < 256; ++b) {
      append_utf8(byte_level_chars[b], byte_codepoints[b]);
      byte_level_inverse.emplace(byte_codepoints[b], static_cast<uint8_t>(b));
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const int32_t id = static_cast<int32_t>(i);
    const std::string& text = spec.tokens[i];
    const TokenType token_type = type(id);
    if (!text.empty()) token_ids.emplace(text, id);  // emplace keeps the first id of a duplicated text
    switch (token_type) {
      case TokenType::CONTROL:
        is_special[i] = 1;
        starts_fragment[i] = 1;
        if (!text.empty()) add_special(text, id);
        break;
      case TokenType::USER_DEFINED:
        starts_fragment[i] = 1;
        pieces[i] = text;
        if (!text.empty()) add_special(text, id);
        break;
      case TokenType::UNKNOWN:
        is_special[i] = 1;
        pieces[i] = kReplacementChar;
        break;
      case TokenType::UNUSED:
        break;
      case TokenType::BYTE:
        if (sentencepiece) {
          unsigned value = 0;
          char tail = 0;
          if (text.size() == 6 && std::sscanf(text.c_str(), "<0x%2X>%c", &value, &tail) == 1 && text[5] == '>') {
            pieces[i] = std::string(1, static_cast<char>(value));
            if (byte_token_ids[value] < 0) byte_token_ids[value] = id;
            break;
          }
        }
        [[fallthrough]];  // malformed byte token, or byte-level BPE where bytes are ordinary tokens
      case TokenType::UNDEFINED:
      case TokenType::NORMAL:
        if (wordpiece && !text.empty()) {
          wordpiece_ids.emplace(text, id);
          max_token_bytes = std::max(max_token_bytes, text.size());
        }
        if (sentencepiece || wordpiece) {
          if (sentencepiece && !text.empty()) spm_piece_ids.emplace(text, id);
          std::string piece;
          for (size_t at = 0; at < text.size();) {
            if (text.compare(at, kSpmSpace.size(), kSpmSpace) == 0) {
              piece += ' ';
              at += kSpmSpace.size();
            } else {
              piece += text[at++];
            }
          }
          pieces[i] = std::move(piece);
        } else {
          pieces[i] = byte_level_decode(text);
        }
        break;
    }
  }
  if (!sentencepiece && !wordpiece) {
    for (uint32_t b = 0; b < 256; ++b) byte_token_ids[b] = find_id(token_ids, byte_level_chars[b]);
    merges.reserve(spec.merges.size());
    for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
      const std::string& merge = spec.merges[rank];
      const size_t space = merge.find(' ', 1);
      if (space == std::string::npos) {
        throw EngineError("tokenizer.ggml.merges[" + std::to_string(rank) + "] = " + describe_token(merge) +
                          " has no space separating its two tokens");
      }
      const std::string_view left(merge.data(), space);
      const std::string_view right(merge.data() + space + 1, merge.size() - space - 1);
      const int32_t left_id = find_id(token_ids, left);
      const int32_t right_id = find_id(token_ids, right);
      if (left_id < 0 || right_id < 0) {
        throw EngineError("tokenizer.ggml.merges[" + std::to_string(rank) + "] = " + describe_token(merge) +
                          " refers to token " + describe_token(std::string(left_id < 0 ? left : right)) +
                          " that is not in the vocabulary");
      }
      const int32_t result = find_id(token_ids, std::string(left) + std::string(right));
      if (result < 0) continue;  // its product is not a token, so the merge can never be emitted
      merges.emplace(merge_key(left_id, right_id), BpeMerge{static_cast<int32_t>(rank), result});
    }
  }
  for (const int32_t id : {spec.eos_id, spec.eot_id}) {
    if (id >= 0) is_eog[static_cast<size_t>(id)] = 1;
  }
  for (const int32_t id : spec.eog_ids) is_eog[static_cast<size_t>(id)] = 1;
}

Tokenizer::Tokenizer(VocabSpec spec) {
  auto tables = std::make_shared<Tables>();
  tables->build(std::move(spec));
  tables_ = std::move(tables);
}

int32_t Tokenizer::n_vocab() const { return static_cast<int32_t>(tables_->spec.tokens.size()); }

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  const std::vector<Segment> one{Segment{text, parse_special}};
  return encode_segments(one, add_special);
}

std::vector<int32_t> Tokenizer::encode_segments(const std::vector<Segment>& segments, bool add_special) const {
  const Tables& t = *tables_;
  std::string joined;
  // [begin, end) byte ranges of `joined` where special-token texts are matched.
  std::vector<std::pair<size_t, size_t>> special_ranges;
  for (const Segment& segment : segments) {
    if (segment.parse_special && !segment.text.empty()) {
      if (!special_ranges.empty() && special_ranges.back().second == joined.size()) {
        special_ranges.back().second += segment.text.size();  // adjacent parsed segments form one range
      } else {
        special_ranges.emplace_back(joined.size(), joined.size() + segment.text.size());
      }
    }
    joined.append(segment.text);
  }
  const std::string_view text = joined;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && t.spec.add_bos) out.push_back(t.spec.bos_id);
  bool after_special = true;  // the text start counts as following a special token (space prefix)
  size_t fragment_start = 0;
  for (const auto& [range_begin, range_end] : special_ranges) {
    // A special token must lie wholly inside one parsed range: none starts in or reaches into literal text.
    const std::string_view parsed = text.substr(0, range_end);
    for (size_t pos = std::max(range_begin, fragment_start); pos < range_end;) {
      if (!t.special_first_byte[static_cast<uint8_t>(text[pos])]) {
        ++pos;
        continue;
      }
      const auto [id, length] = t.match_special(parsed, pos);
      if (id < 0) {
        ++pos;
        continue;
      }
      if (pos > fragment_start) t.encode_text(text.substr(fragment_start, pos - fragment_start), after_special, out);
      out.push_back(id);
      after_special = true;
      pos += length;
      fragment_start = pos;
    }
  }
  if (text.size() > fragment_start) t.encode_text(text.substr(fragment_start), after_special, out);
  if (add_special && t.spec.add_eos) out.push_back(t.spec.eos_id);
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
  const Tables& t = *tables_;
  t.check_id(id);
  const size_t index = static_cast<size_t>(id);
  if (render_special && t.is_special[index]) return t.spec.tokens[index];
  return t.pieces[index];
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool render_special) const {
  const Tables& t = *tables_;
  std::string out;
  // SentencePiece's space prefix, or WordPiece's phantom space, is not part of the text.
  const bool strips_space = (t.sentencepiece && t.spec.add_space_prefix) || t.wordpiece;
  bool strip_space = strips_space;
  for (const int32_t id : ids) {
    t.check_id(id);
    const size_t index = static_cast<size_t>(id);
    if (t.starts_fragment[index]) {
      out += render_special && t.is_special[index] ? t.spec.tokens[index] : t.pieces[index];
      strip_space = strips_space;
      continue;
    }
    const std::string& piece = render_special && t.is_special[index] ? t.spec.tokens[index] : t.pieces[index];
    if (piece.empty()) continue;
    out.append(piece, strip_space && piece[0] == ' ' ? 1 : 0);
    strip_space = false;
  }
  return out;
}

bool Tokenizer::is_eog(int32_t id) const {
  if (id < 0 || id >= n_vocab()) return false;
  return tables_->is_eog[static_cast<size_t>(id)] != 0;
}

int32_t Tokenizer::bos_id() const { return tables_->spec.bos_id; }
int32_t Tokenizer::eos_id() const { return tables_->spec.eos_id; }

const std::string& Tokenizer::token_text(int32_t id) const {
  tables_->check_id(id);
  return tables_->spec.tokens[static_cast<size_t>(id)];
}

const VocabSpec& Tokenizer::spec() const { return tables_->spec; }

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tok, bool render_special)
    : tokenizer_(tok), render_special_(render_special) {}

std::string StreamingDetokenizer::push(int32_t id) {
  pending_ += tokenizer_.token_to_piece(id, render_special_);
  std::string out;
  size_t offset = 0;
  while (offset < pending_.size()) {
    const int length = utf8_complete_length(pending_, offset);
    if (length < 0) break;  // valid start of a character whose remaining bytes are still to come
    if (length == 0) {
      out += kReplacementChar;
      ++offset;
      continue;
    }
    out.append(pending_, offset, static_cast<size_t>(length));
    offset += static_cast<size_t>(length);
  }
  pending_.erase(0, offset);
  return out;
}

std::string StreamingDetokenizer::flush() {
  std::string out = pending_.empty() ? std::string() : std::string(kReplacementChar);
  pending_.clear();
  return out;
}

}  // namespace sovren
