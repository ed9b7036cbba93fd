// The byte trie of a vocabulary's token pieces, built once per vocabulary and shared by every grammar matcher that
// masks logits for it. Nodes are stored in preorder with the end of each subtree, so a matcher walks the trie as a
// flat array and skips a whole subtree the moment its byte prefix is rejected.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sovren::grammar {

class TokenTrie {
 public:
  // pieces[id]: the raw bytes token `id` produces (empty: never allowed by a grammar, e.g. control tokens).
  // eog: the end-of-generation ids, allowed only where the grammar is complete.
  TokenTrie(const std::vector<std::string>& pieces, std::vector<int32_t> eog);

  int32_t n_vocab() const { return static_cast<int32_t>(pieces_.size()); }
  size_t node_count() const { return byte_.size(); }
  int max_depth() const { return max_depth_; }
  const std::string& piece(int32_t id) const { return pieces_[static_cast<size_t>(id)]; }
  const std::vector<int32_t>& eog() const { return eog_; }
  bool is_eog(int32_t id) const;

  // Preorder node arrays (no root node): byte, depth (1-based), index one past the subtree, tokens ending here.
  const std::vector<uint8_t>& bytes() const { return byte_; }
  const std::vector<uint16_t>& depths() const { return depth_; }
  const std::vector<uint32_t>& subtree_ends() const { return subtree_end_; }
  const std::vector<uint32_t>& token_begins() const { return token_begin_; }  // size node_count() + 1
  const std::vector<int32_t>& token_ids() const { return token_ids_; }

 private:
  std::vector<std::string> pieces_;
  std::vector<int32_t> eog_;
  std::vector<uint8_t> byte_;
  std::vector<uint16_t> depth_;
  std::vector<uint32_t> subtree_end_;
  std::vector<uint32_t> token_begin_;
  std::vector<int32_t> token_ids_;
  int max_depth_ = 0;
};

}  // namespace sovren::grammar
