// Builds the preorder trie (see token-trie.h) from the pieces sorted bytewise: each piece adds the nodes past its
// common prefix with the previous one, so nodes appear in preorder and a piece always ends at the newest node.
#include "grammar/token-trie.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"

namespace sovren::grammar {

// Pieces longer than this are left out of the trie (never allowed under a grammar): no real token is this long.
constexpr size_t kMaxPieceBytes = 1024;

TokenTrie::TokenTrie(const std::vector<std::string>& pieces, std::vector<int32_t> eog)
    : pieces_(pieces), eog_(std::move(eog)) {
  const auto n = static_cast<int32_t>(pieces_.size());
  for (const int32_t id : eog_) {
    if (id < 0 || id >= n)
      throw EngineError("token trie: end-of-generation id " + std::to_string(id) + " out of range");
  }
  std::vector<int32_t> order;
  for (int32_t id = 0; id < n; ++id) {
    const std::string& p = pieces_[static_cast<size_t>(id)];
    if (!p.empty() && p.size() <= kMaxPieceBytes && !is_eog(id)) order.push_back(id);
  }
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return pieces_[static_cast<size_t>(a)] < pieces_[static_cast<size_t>(b)];
  });
  std::vector<uint32_t> path;  // node index at each depth - 1
  const std::string* prev = nullptr;
  for (const int32_t id : order) {
    const std::string& piece = pieces_[static_cast<size_t>(id)];
    size_t common = 0;
    if (prev != nullptr) {
      const size_t limit = std::min(prev->size(), piece.size());
      while (common < limit && (*prev)[common] == piece[common]) ++common;
    }
    while (path.size() > common) {
      subtree_end_[path.back()] = static_cast<uint32_t>(byte_.size());
      path.pop_back();
    }
    for (size_t d = common; d < piece.size(); ++d) {
      path.push_back(static_cast<uint32_t>(byte_.size()));
      byte_.push_back(static_cast<uint8_t>(piece[d]));
      depth_.push_back(static_cast<uint16_t>(d + 1));
      subtree_end_.push_back(0);
      token_begin_.push_back(static_cast<uint32_t>(token_ids_.size()));
    }
    token_ids_.push_back(id);
    max_depth_ = std::max(max_depth_, static_cast<int>(piece.size()));
    prev = &piece;
  }
  while (!path.empty()) {
    subtree_end_[path.back()] = static_cast<uint32_t>(byte_.size());
    path.pop_back();
  }
  token_begin_.push_back(static_cast<uint32_t>(token_ids_.size()));
}

bool TokenTrie::is_eog(int32_t id) const { return std::find(eog_.begin(), eog_.end(), id) != eog_.end(); }

}  // namespace sovren::grammar
