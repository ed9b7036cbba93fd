// The grammar matcher (see grammar-matcher.h).
#include "grammar/grammar-matcher.h"

#include <algorithm>

namespace sovren::grammar {
namespace {

// Bounds on what one grammar may cost: distinct stacks in one state (ambiguous grammars), stacks visited while
// expanding one transition, and cached DFA states before the cache is rebuilt from the current state.
constexpr size_t kMaxStacks = 4096;
constexpr size_t kMaxExpansions = 200000;
constexpr size_t kMaxCachedStates = 4096;
constexpr size_t kMaskCacheBytes = 8u << 20;

std::string set_key(const std::vector<std::vector<uint32_t>>& stacks) {
  std::string key;
  for (const auto& s : stacks) {
    const auto n = static_cast<uint32_t>(s.size());
    key.append(reinterpret_cast<const char*>(&n), sizeof n);
    key.append(reinterpret_cast<const char*>(s.data()), s.size() * sizeof(uint32_t));
  }
  return key;
}

}  // namespace

GrammarMatcher::GrammarMatcher(std::string_view gbnf)
    : GrammarMatcher(std::make_shared<const Grammar>(parse_gbnf(gbnf))) {}

GrammarMatcher::GrammarMatcher(std::shared_ptr<const Grammar> grammar) : grammar_(std::move(grammar)) {
  std::vector<Stack> stacks;
  for (const uint32_t alt : grammar_->alternatives(grammar_->root)) {
    Stack s;
    if (!grammar_->is_end_of_sequence(alt)) s.push_back(alt);
    expand(std::move(s), stacks);
  }
  initial_ = intern_state(intern_set(std::move(stacks)), 0, 0, 0);
  current_ = initial_;
}

void GrammarMatcher::reset() { current_ = initial_; }

bool GrammarMatcher::is_accepting() const {
  if (current_ < 0) return false;
  const DState& d = dstates_[static_cast<size_t>(current_)];
  return d.remain == 0 && sets_[d.set].accepting;
}

// Resolves rule references on top of `stack` until every resulting stack is empty or topped by a character element
// (llama.cpp's advance_stack, iteratively). The grammar has no left recursion, so this terminates.
void GrammarMatcher::expand(Stack stack, std::vector<Stack>& out) const {
  const Grammar& g = *grammar_;
  std::vector<Stack> todo;
  todo.push_back(std::move(stack));
  size_t visited = 0;
  while (!todo.empty()) {
    if (++visited > kMaxExpansions) throw GrammarError("grammar is too ambiguous to match (too many parse stacks)");
    Stack s = std::move(todo.back());
    todo.pop_back();
    if (s.empty() || g.elements[s.back()].type != ElementType::RuleRef) {
      out.push_back(std::move(s));
      continue;
    }
    const uint32_t ref = s.back();
    const uint32_t rule = g.elements[ref].value;
    s.pop_back();
    if (!g.is_end_of_sequence(ref + 1)) s.push_back(ref + 1);
    for (const uint32_t alt : g.alternatives(rule)) {
      Stack next = s;
      if (!g.is_end_of_sequence(alt)) next.push_back(alt);
      todo.push_back(std::move(next));
    }
  }
}

uint32_t GrammarMatcher::intern_set(std::vector<Stack> stacks) {
  std::sort(stacks.begin(), stacks.end());
  stacks.erase(std::unique(stacks.begin(), stacks.end()), stacks.end());
  if (stacks.size() > kMaxStacks) throw GrammarError("grammar is too ambiguous to match (too many parse stacks)");
  std::string key = set_key(stacks);
  auto it = set_index_.find(key);
  if (it != set_index_.end()) return it->second;
  StackSet set;
  set.accepting = !stacks.empty() && stacks.front().empty();  // sorted: an empty stack comes first
  set.stacks = std::move(stacks);
  const auto id = static_cast<uint32_t>(sets_.size());
  sets_.push_back(std::move(set));
  set_index_.emplace(std::move(key), id);
  return id;
}

int32_t GrammarMatcher::intern_state(uint32_t set, uint32_t partial, uint8_t remain, uint8_t length) {
  // An incomplete character holds at most 15 bits (a 4-byte lead and two continuation bytes).
  const uint64_t key = (static_cast<uint64_t>(set) << 24) | (static_cast<uint64_t>(length) << 20) |
                       (static_cast<uint64_t>(remain) << 18) | partial;
  auto it = dstate_index_.find(key);
  if (it != dstate_index_.end()) return it->second;
  const auto id = static_cast<int32_t>(dstates_.size());
  dstates_.push_back({set, partial, remain, length});
  dstate_index_.emplace(key, id);
  transitions_.resize(dstates_.size() * 256, kUnknown);
  return id;
}

int32_t GrammarMatcher::advance_code_point(uint32_t set, uint32_t cp) {
  const Grammar& g = *grammar_;
  std::vector<Stack> next;
  for (const Stack& s : sets_[set].stacks) {
    if (s.empty() || !g.matches(s.back(), cp)) continue;
    Stack rest(s.begin(), s.end() - 1);
    if (!g.is_end_of_sequence(s.back() + 1)) rest.push_back(s.back() + 1);
    expand(std::move(rest), next);
  }
  if (next.empty()) return kDead;
  return intern_state(intern_set(std::move(next)), 0, 0, 0);
}

int32_t GrammarMatcher::compute(int32_t state, uint8_t byte) {
  const DState d = dstates_[static_cast<size_t>(state)];
  uint32_t partial;
  uint8_t remain, length;
  if (d.remain == 0) {
    if (byte < 0x80) return advance_code_point(d.set, byte);
    if (byte >= 0xC2 && byte <= 0xDF) {
      partial = byte & 0x1Fu;
      length = 2;
    } else if ((byte & 0xF0) == 0xE0) {
      partial = byte & 0x0Fu;
      length = 3;
    } else if (byte >= 0xF0 && byte <= 0xF4) {
      partial = byte & 0x07u;
      length = 4;
    } else {
      return kDead;  // a continuation byte, or a lead byte no valid character starts with
    }
    remain = static_cast<uint8_t>(length - 1);
  } else {
    if ((byte & 0xC0) != 0x80) return kDead;
    partial = (d.partial << 6) | (byte & 0x3Fu);
    remain = static_cast<uint8_t>(d.remain - 1);
    length = d.length;
  }
  // Shortest-form UTF-8 only (no overlong encodings, no surrogates), so every accepted byte string decodes to the
  // characters the grammar matched.
  static constexpr uint32_t kMinOfLength[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (remain == 0) {
    const uint32_t cp = partial;
    if (cp < kMinOfLength[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return kDead;
    return advance_code_point(d.set, cp);
  }
  // Incomplete character: alive only if some stack accepts a code point this prefix can still become.
  const uint32_t lo = std::max(partial << (6 * remain), kMinOfLength[length]);
  const uint32_t hi = std::min<uint32_t>((partial << (6 * remain)) | ((1u << (6 * remain)) - 1), 0x10FFFF);
  if (lo > hi) return kDead;
  for (const Stack& s : sets_[d.set].stacks) {
    if (!s.empty() && grammar_->matches_any_in(s.back(), lo, hi)) return intern_state(d.set, partial, remain, length);
  }
  return kDead;
}

int32_t GrammarMatcher::run(int32_t state, std::string_view bytes) {
  for (const char c : bytes) {
    if (state < 0) return kDead;
    state = step(state, static_cast<uint8_t>(c));
  }
  return state;
}

bool GrammarMatcher::can_accept(std::string_view bytes) { return current_ >= 0 && run(current_, bytes) >= 0; }

bool GrammarMatcher::accept(std::string_view bytes) {
  if (current_ < 0) return false;
  const int32_t next = run(current_, bytes);
  if (next < 0) return false;
  current_ = next;
  return true;
}

bool GrammarMatcher::accept_token(const TokenTrie& trie, int32_t id) {
  if (id < 0 || id >= trie.n_vocab()) return false;
  if (trie.is_eog(id)) return is_accepting();
  const std::string& piece = trie.piece(id);
  return !piece.empty() && accept(piece);
}

void GrammarMatcher::trim_cache() {
  if (dstates_.size() <= kMaxCachedStates) return;
  // Keep only the start state and the current one; everything else is rebuilt on demand.
  const DState cur = dstates_[static_cast<size_t>(current_)];
  std::vector<Stack> cur_stacks = sets_[cur.set].stacks;
  std::vector<Stack> init_stacks = sets_[dstates_[static_cast<size_t>(initial_)].set].stacks;
  sets_.clear();
  set_index_.clear();
  dstates_.clear();
  dstate_index_.clear();
  transitions_.clear();
  masks_.clear();
  initial_ = intern_state(intern_set(std::move(init_stacks)), 0, 0, 0);
  current_ = intern_state(intern_set(std::move(cur_stacks)), cur.partial, cur.remain, cur.length);
}

void GrammarMatcher::walk(const TokenTrie& trie, std::vector<uint64_t>& mask) {
  const std::vector<uint8_t>& bytes = trie.bytes();
  const std::vector<uint16_t>& depths = trie.depths();
  const std::vector<uint32_t>& ends = trie.subtree_ends();
  const std::vector<uint32_t>& begins = trie.token_begins();
  const std::vector<int32_t>& ids = trie.token_ids();
  walk_.resize(static_cast<size_t>(trie.max_depth()) + 1);
  walk_[0] = current_;
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    const uint16_t depth = depths[i];
    const int32_t s = step(walk_[depth - 1], bytes[i]);
    if (s < 0) {
      i = ends[i];
      continue;
    }
    walk_[depth] = s;
    // Tokens ending inside an incomplete character are allowed: the next token can complete it.
    for (uint32_t t = begins[i]; t < begins[i + 1]; ++t) {
      const auto id = static_cast<uint32_t>(ids[t]);
      mask[id >> 6] |= uint64_t{1} << (id & 63);
    }
    ++i;
  }
  if (is_accepting()) {
    for (const int32_t id : trie.eog()) mask[static_cast<uint32_t>(id) >> 6] |= uint64_t{1} << (id & 63);
  }
}

const std::vector<uint64_t>& GrammarMatcher::allowed_mask(const TokenTrie& trie) {
  const size_t words = (static_cast<size_t>(trie.n_vocab()) + 63) / 64;
  if (current_ < 0) {
    dead_mask_.assign(words, 0);
    return dead_mask_;
  }
  trim_cache();
  if (mask_trie_ != &trie || masks_.size() * words * sizeof(uint64_t) >= kMaskCacheBytes) {
    masks_.clear();
    mask_trie_ = &trie;
  }
  auto it = masks_.find(current_);
  if (it != masks_.end()) return it->second;
  std::vector<uint64_t> mask(words, 0);
  walk(trie, mask);
  return masks_.emplace(current_, std::move(mask)).first->second;
}

void GrammarMatcher::allowed_tokens(const TokenTrie& trie, std::vector<int32_t>& out) {
  out.clear();
  const std::vector<uint64_t>& mask = allowed_mask(trie);
  for (size_t w = 0; w < mask.size(); ++w) {
    for (uint64_t bits = mask[w]; bits != 0; bits &= bits - 1) {
      out.push_back(static_cast<int32_t>(w * 64 + static_cast<size_t>(__builtin_ctzll(bits))));
    }
  }
}

}  // namespace sovren::grammar
