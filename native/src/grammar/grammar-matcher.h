// Token-level grammar matching. The grammar runs as llama.cpp's pushdown automaton (a set of stacks of grammar
// positions, each topped by a character element), but its states are interned and its byte transitions cached:
// the matcher is a lazily built byte DFA whose states are (stack set, incomplete UTF-8 prefix). Masking walks the
// vocabulary's byte trie (token-trie.h) with one table lookup per trie node and skips every subtree whose prefix
// the grammar rejects, so a step costs a fraction of the trie at most; end-of-generation tokens are allowed only
// where the grammar is complete.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "grammar/gbnf.h"
#include "grammar/token-trie.h"

namespace sovren::grammar {

class GrammarMatcher {
 public:
  // Throws GrammarError for an invalid grammar (naming line and column).
  explicit GrammarMatcher(std::string_view gbnf);
  explicit GrammarMatcher(std::shared_ptr<const Grammar> grammar);

  // Back to the grammar's start.
  void reset();
  // The grammar is complete here (end of generation is allowed).
  bool is_accepting() const;
  // No further input can be accepted and the grammar is not complete (cannot happen after masked sampling).
  bool is_dead() const { return current_ < 0; }

  // Whether `bytes` could be appended now (the matcher does not move).
  bool can_accept(std::string_view bytes);
  // Appends `bytes`; returns false (and leaves the state unchanged) when the grammar rejects them.
  bool accept(std::string_view bytes);
  // Appends token `id`'s piece (end-of-generation tokens: only checks that the grammar is complete).
  bool accept_token(const TokenTrie& trie, int32_t id);

  // The tokens allowed next as a bitset over the vocabulary (bit id % 64 of word id / 64), end-of-generation ids
  // included where the grammar is complete. Masks are cached per DFA state (16 KiB each for 128k tokens, within a
  // budget), so a state the generation comes back to — inside a JSON string, after a value — costs no trie walk.
  // The reference stays valid until the next call of a non-const member.
  const std::vector<uint64_t>& allowed_mask(const TokenTrie& trie);
  // The same as ascending token ids.
  void allowed_tokens(const TokenTrie& trie, std::vector<int32_t>& out);

  size_t state_count() const { return dstates_.size(); }

 private:
  using Stack = std::vector<uint32_t>;  // element indices; back() is the next character element to match
  struct StackSet {
    std::vector<Stack> stacks;  // sorted, unique
    bool accepting = false;     // holds an empty stack
  };
  struct DState {
    uint32_t set;
    uint32_t partial;  // bits of an incomplete UTF-8 code point
    uint8_t remain;    // continuation bytes still expected
    uint8_t length;    // bytes of that character (2..4; 0 when none is incomplete), to refuse overlong forms
  };
  static constexpr int32_t kDead = -1;
  static constexpr int32_t kUnknown = -2;

  void expand(Stack stack, std::vector<Stack>& out) const;
  uint32_t intern_set(std::vector<Stack> stacks);
  int32_t intern_state(uint32_t set, uint32_t partial, uint8_t remain, uint8_t length);
  int32_t advance_code_point(uint32_t set, uint32_t cp);
  int32_t compute(int32_t state, uint8_t byte);
  int32_t step(int32_t state, uint8_t byte) {
    int32_t& t = transitions_[static_cast<size_t>(state) * 256 + byte];
    if (t == kUnknown) {
      const int32_t next = compute(state, byte);
      transitions_[static_cast<size_t>(state) * 256 + byte] = next;  // compute() may have grown the table
      return next;
    }
    return t;
  }
  int32_t run(int32_t state, std::string_view bytes);
  void trim_cache();
  void walk(const TokenTrie& trie, std::vector<uint64_t>& mask);

  std::shared_ptr<const Grammar> grammar_;
  std::vector<StackSet> sets_;
  std::unordered_map<std::string, uint32_t> set_index_;
  std::vector<DState> dstates_;
  std::unordered_map<uint64_t, int32_t> dstate_index_;
  std::vector<int32_t> transitions_;  // [state][256]
  int32_t initial_ = 0;
  int32_t current_ = 0;
  std::vector<int32_t> walk_;  // scratch: DFA state per trie depth
  // Masks by DFA state, for one trie (cleared when another trie is used or the state cache is rebuilt).
  const TokenTrie* mask_trie_ = nullptr;
  std::unordered_map<int32_t, std::vector<uint64_t>> masks_;
  std::vector<uint64_t> dead_mask_;
};

}  // namespace sovren::grammar
