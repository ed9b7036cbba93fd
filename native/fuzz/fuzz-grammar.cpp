// libFuzzer harness for the GBNF parser and matcher: parse arbitrary text as a grammar; when it parses, feed the
// matcher a few byte strings and mask a small vocabulary. Only GrammarError may escape (an invalid grammar, or one
// too ambiguous to match); ASan/UBSan flag any bad read, overflow or leak, and libFuzzer any hang.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/grammar-matcher.h"
#include "grammar/token-trie.h"

namespace {

volatile size_t g_sink = 0;

const sovren::grammar::TokenTrie& vocabulary() {
  static const sovren::grammar::TokenTrie trie({"", "{", "}", "\"", "a", "ab", "b", " ", "1", "12", ":", ",", "[", "]",
                                                "\xce", "\xb1", "\xce\xb1", "true", "\n"},
                                               {0});
  return trie;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    sovren::grammar::GrammarMatcher matcher(text);
    std::vector<int32_t> allowed;
    for (int step = 0; step < 8; ++step) {
      matcher.allowed_tokens(vocabulary(), allowed);
      g_sink = g_sink + allowed.size() + matcher.is_accepting();
      if (allowed.empty()) break;
      matcher.accept_token(vocabulary(), allowed[static_cast<size_t>(step) % allowed.size()]);
    }
    matcher.reset();
    g_sink = g_sink + matcher.can_accept(text.substr(0, 16));
  } catch (const sovren::grammar::GrammarError&) {
    g_sink = g_sink + 1;  // invalid grammars are refused by design
  }
  return 0;
}
