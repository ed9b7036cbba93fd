// Tokenizer::Tables: the vocabulary tables the tokenizers read, built once by tokenizer.cpp. Private to
// src/tokenizer: the SentencePiece (tokenizer-spm.cpp) and byte-level BPE (tokenizer-bpe.cpp) encoders are its methods.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.h"
#include "tokenizer/bpe-pre-tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace sovren {
namespace tokenizer_internal {

inline constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // "▁" (U+2581), SentencePiece's visible space

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenIdMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

inline int32_t find_id(const TokenIdMap& map, std::string_view text) {
  const auto it = map.find(text);
  return it == map.end() ? -1 : it->second;
}

struct SpecialTrieNode {
  std::vector<std::pair<uint8_t, int32_t>> children;  // byte -> node index
  int32_t token = -1;
};

struct BpeMerge {
  int32_t rank;
  int32_t result;  // token id of left+right
};

inline uint64_t merge_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

}  // namespace tokenizer_internal

struct Tokenizer::Tables {
  using TokenIdMap = tokenizer_internal::TokenIdMap;
  using BpeMerge = tokenizer_internal::BpeMerge;
  using SpecialTrieNode = tokenizer_internal::SpecialTrieNode;

  VocabSpec spec;
  bool sentencepiece = false;
  bool wordpiece = false;      // "bert": greedy longest-match WordPiece over phantom-space pieces
  TokenIdMap wordpiece_ids;    // WordPiece: NORMAL / UNDEFINED token texts -> id
  size_t max_token_bytes = 0;  // WordPiece: the longest such text
  BpePreTokenizer pre_tokenizer = BpePreTokenizer::kGpt2;
  bool ignore_merges = false;            // Llama 3: a whole word that is a token is taken as is (tiktoken behaviour)
  TokenIdMap token_ids;                  // every token text -> its first id
  TokenIdMap spm_piece_ids;              // SentencePiece pieces that bigram merging may produce (NORMAL / UNDEFINED)
  std::vector<std::string> pieces;       // bytes of each token as rendered without render_special
  std::vector<uint8_t> is_special;       // CONTROL / UNKNOWN: rendering depends on render_special
  std::vector<uint8_t> starts_fragment;  // CONTROL / USER_DEFINED: SentencePiece restarts the space prefix after it
  std::vector<uint8_t> is_eog;
  std::array<int32_t, 256> byte_token_ids{};                 // <0xNN> (SentencePiece) or byte-level char token (BPE)
  std::array<std::string, 256> byte_level_chars;             // BPE: UTF-8 of each byte's stand-in character
  std::unordered_map<uint32_t, uint8_t> byte_level_inverse;  // stand-in code point -> byte
  std::unordered_map<uint64_t, BpeMerge> merges;
  std::vector<SpecialTrieNode> special_trie{1};  // node 0 is the root
  std::array<bool, 256> special_first_byte{};

  TokenType type(int32_t id) const { return static_cast<TokenType>(spec.token_types[static_cast<size_t>(id)]); }

  void check_id(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= spec.tokens.size()) {
      throw EngineError("token id " + std::to_string(id) + " is out of range (vocabulary has " +
                        std::to_string(spec.tokens.size()) + " tokens)");
    }
  }

  // ---- special tokens (tokenizer.cpp) ----------------------------------------------------------------
  void add_special(const std::string& text, int32_t id);
  // Longest special token starting at `offset`: {id, length}, or {-1, 0}.
  std::pair<int32_t, size_t> match_special(std::string_view text, size_t offset) const;

  // Plain text (no special tokens in it) to ids, by the vocabulary's algorithm.
  void encode_text(std::string_view text, bool after_special, std::vector<int32_t>& out) const;

  // ---- SentencePiece (tokenizer-spm.cpp) ----------------------------------------------------------------
  // Spaces become "▁", with the prefix after a special token or at the start when the vocabulary asks for it.
  void encode_spm_text(std::string_view text, bool after_special, std::vector<int32_t>& out) const;
  void push_byte_fallback(std::string_view symbol, std::vector<int32_t>& out) const;
  // `text` already has spaces replaced by "▁" and the prefix added.
  void encode_sentencepiece(std::string_view text, std::vector<int32_t>& out) const;

  // ---- byte-level BPE (tokenizer-bpe.cpp) ---------------------------------------------------------------
  // Pre-tokenizer words, each merged by rank.
  void encode_bpe_text(std::string_view text, std::vector<int32_t>& out) const;
  void encode_bpe_word(std::string_view word, std::vector<int32_t>& out) const;
  // Byte stand-in characters back to the bytes they stand for.
  std::string byte_level_decode(const std::string& text) const;

  // ---- WordPiece (tokenizer-wpm.cpp) -------------------------------------------------------------------
  void encode_wordpiece(std::string_view text, std::vector<int32_t>& out) const;

  void build(VocabSpec&& input);
};

}  // namespace sovren
