// Grammar tests: GBNF parsing (every construct, errors naming line and column, undefined rules, left recursion,
// oversized repetitions), string matching through the byte DFA (repetitions, classes, UTF-8 split across pieces),
// and token masking: the trie walk must allow exactly the tokens a piece-by-piece check allows, with
// end-of-generation only where the grammar is complete.
#include <algorithm>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "grammar/gbnf.h"
#include "grammar/grammar-matcher.h"
#include "grammar/token-trie.h"

#include "test-check.h"

using namespace sovren::grammar;

namespace {

void check_error(const std::string& gbnf, const std::string& needle, const std::string& what) {
  try {
    GrammarMatcher m(gbnf);
    check(false, what + ": no GrammarError thrown");
  } catch (const GrammarError& e) {
    check(std::string(e.what()).find(needle) != std::string::npos,
          what + ": message \"" + e.what() + "\" does not mention \"" + needle + "\"");
  }
}

// Whether the grammar accepts exactly `text` (all of it, and is complete afterwards).
bool full_match(const std::string& gbnf, const std::string& text) {
  GrammarMatcher m(gbnf);
  return m.accept(text) && m.is_accepting();
}

void test_parse_errors() {
  check_error("root ::= \"a\" |\n  foo\n", "line 2, column 3: undefined rule 'foo'", "undefined rule named");
  check_error("root ::= \"abc", "line 1, column 14: unterminated string literal", "unterminated literal");
  check_error("root ::= [a-", "unterminated character class", "unterminated class");
  check_error("root ::= [z-a]", "reversed", "reversed range");
  check_error("foo ::= \"a\"", "no rule named 'root'", "missing root");
  check_error("root ::= root \"a\" | \"b\"", "left-recursive", "direct left recursion");
  check_error("root ::= a\na ::= b? a \"x\"\nb ::= \"y\"", "left-recursive", "left recursion through a nullable rule");
  check_error("root ::= \"a\"\nroot ::= \"b\"", "defined twice", "duplicate rule");
  check_error("root = \"a\"", "line 1, column 6: expecting '::='", "missing ::=");
  check_error("root ::= \"\\q\"", "unknown escape", "bad escape");
  check_error("root ::= * \"a\"", "expecting a preceding item", "repetition without an item");
  check_error("root ::= \"a\"{3,1}", "below its minimum", "max < min");
  check_error("root ::= (\"a\"{1000}){1000}{1000}", "too large", "repetition blow-up is refused");
  check_error("root ::= ( \"a\" ", "expecting ')'", "unclosed group");
  check_error("root ::= \"a\" )", "line 1, column 14: unexpected ')'", "stray character");
  check_error("root ::= \"\xff\"", "invalid UTF-8", "bad UTF-8 in a literal");
}

void test_matching() {
  check(full_match("root ::= \"ab\" | \"cd\"", "cd"), "alternative");
  check(!full_match("root ::= \"ab\" | \"cd\"", "ad"), "mixed alternatives rejected");
  check(!full_match("root ::= \"ab\"", "a"), "prefix is not complete");
  check(full_match("root ::= [a-c]+ \"!\"?", "abcab!"), "class, + and ?");
  check(full_match("root ::= [a-c]+ \"!\"?", "cc"), "optional left out");
  check(!full_match("root ::= [a-c]+", ""), "+ needs one");
  check(full_match("root ::= [a-c]*", ""), "* allows none");
  check(full_match("root ::= [^\"\\\\]* \"\\\"\"", "x y\"") && !full_match("root ::= [^\"]", "\""), "negated class");
  check(full_match("root ::= \"x\"{2,3}", "xx") && full_match("root ::= \"x\"{2,3}", "xxx"), "{2,3} bounds");
  check(!full_match("root ::= \"x\"{2,3}", "x") && !full_match("root ::= \"x\"{2,3}", "xxxx"), "{2,3} outside");
  check(full_match("root ::= \"x\"{2,}", "xxxxx") && !full_match("root ::= \"x\"{2,}", "x"), "{2,}");
  check(full_match("root ::= \"ab\"{2}", "abab"), "{2} repeats the whole literal");
  check(full_match("root ::= . . .", "a\xce\xb1z"), "any character, multi-byte");
  check(full_match("# comment\nroot ::= item (\",\" item)*  # trailing\nitem ::= [0-9]+\n", "1,22,333"),
        "comments, groups and rule references");
  check(full_match("root ::= (\n  \"a\"\n  | \"b\"\n)", "b"), "newlines inside groups");
  check(full_match("root ::= \"\\x41\\u00e9\\n\"", "A\xc3\xa9\n"), "escapes");
  check(full_match("root ::= [\\u03b1-\\u03c9]+", "\xce\xb1\xce\xb2\xcf\x89"), "Greek range");
  check(!full_match("root ::= [\\u03b1-\\u03c9]+", "\xce\x91"), "capital alpha outside the range");

  // Bytes of one character may arrive in separate pieces.
  GrammarMatcher m("root ::= \"\xce\xb1\" \"b\"");
  check(m.accept("\xce"), "first byte of a two-byte character");
  check(!m.is_accepting(), "incomplete character is not complete");
  check(!m.can_accept("\xb2"), "wrong continuation byte rejected");
  check(m.accept("\xb1"
                 "b") &&
            m.is_accepting(),
        "character completed by the next piece");
  check(!m.accept("b"), "nothing after the end");
  GrammarMatcher overlong("root ::= \"b\" | [\\u0800-\\uffff]");
  check(!overlong.can_accept("\xf0\x80\x81\xa2") && !overlong.can_accept("\xc1\xa2"), "overlong 'b' refused");
  check(!overlong.can_accept("\xe0\x80") && !overlong.can_accept("\xed\xa0\x80"), "overlong / surrogate refused");
  check(overlong.can_accept("\xe0\xa0\x80") && overlong.can_accept("\xef\xbf\xbf"), "shortest forms accepted");
  GrammarMatcher partial("root ::= \"a\"");
  check(!partial.can_accept("\xce"), "a lead byte whose characters the grammar never accepts is rejected");

  // Nesting: balanced brackets.
  const std::string nested = "root ::= \"(\" root* \")\"";
  check(full_match(nested, "(()(()))"), "nested brackets");
  check(!full_match(nested, "(()"), "unbalanced brackets");
  // reset() goes back to the start.
  GrammarMatcher r("root ::= \"ab\"");
  check(r.accept("ab") && !r.accept("a"), "complete then refuses more");
  r.reset();
  check(r.accept("a"), "reset restarts");
}

// Allowed tokens from the trie walk against a per-token check.
std::vector<int32_t> brute_allowed(GrammarMatcher& m, const TokenTrie& trie) {
  std::vector<int32_t> out;
  for (int32_t id = 0; id < trie.n_vocab(); ++id) {
    if (trie.is_eog(id)) {
      if (m.is_accepting()) out.push_back(id);
    } else if (!trie.piece(id).empty() && m.can_accept(trie.piece(id))) {
      out.push_back(id);
    }
  }
  return out;
}

void test_masking() {
  std::vector<std::string> pieces = {"",         "",       "{", "}",   "\"",  "a",  "ab", "abc",  "b",
                                     "\"a",      "a\"",    ":", ",",   " ",   "1",  "12", "\xce", "\xb1",
                                     "\xce\xb1", "\xb1\"", "x", "{\"", "\"}", "{}", "ab"};
  const int32_t eos = 1;
  TokenTrie trie(pieces, {eos});
  const std::string gbnf =
      "root ::= \"{\" (pair (\",\" pair)*)? \"}\"\n"
      "pair ::= str \":\" \" \"? num\n"
      "str ::= \"\\\"\" [a-c\\u03b1]* \"\\\"\"\n"
      "num ::= [0-9]+\n";
  GrammarMatcher m(gbnf);
  std::mt19937 rng(7);
  int steps = 0;
  bool saw_eos = false;
  for (int run = 0; run < 40; ++run) {
    m.reset();
    for (int step = 0; step < 30; ++step) {
      std::vector<int32_t> walk;
      m.allowed_tokens(trie, walk);
      std::vector<int32_t> sorted = walk;
      std::sort(sorted.begin(), sorted.end());
      const std::vector<int32_t> expected = brute_allowed(m, trie);
      check(sorted == expected, "trie walk allows exactly the accepted tokens (run " + std::to_string(run) + ")");
      if (walk.empty()) break;
      const int32_t pick = walk[rng() % walk.size()];
      ++steps;
      if (pick == eos) {
        saw_eos = true;
        check(m.is_accepting(), "EOS only where the grammar is complete");
        break;
      }
      check(m.accept_token(trie, pick), "an allowed token is accepted");
    }
  }
  check(steps > 100 && saw_eos, "masking walk took steps and finished");
  GrammarMatcher start(gbnf);
  std::vector<int32_t> first;
  start.allowed_tokens(trie, first);
  std::sort(first.begin(), first.end());
  check(first == std::vector<int32_t>({2, 21, 23}), "only '{', '{\"' and '{}' can start");
  check(!start.accept_token(trie, eos), "EOS refused before the grammar is complete");
}

void test_trie() {
  TokenTrie trie({"b", "ab", "a", "", "abc", "ab"}, {});
  check(trie.node_count() == 4, "shared prefixes share nodes (a, ab, abc, b)");
  check(trie.max_depth() == 3, "depth of the longest piece");
  const std::vector<uint32_t>& begins = trie.token_begins();
  check(begins[2] - begins[1] == 2, "duplicate pieces share one node");
  check(trie.subtree_ends()[0] == 3, "subtree of 'a' ends before 'b'");
}

// Deterministic mutation fuzzing (the libFuzzer harness native/fuzz/fuzz-grammar.cpp does this without end): byte
// flips, inserts and deletes of valid grammars must either parse or throw GrammarError, and parsed ones must mask.
void test_mutations() {
  const std::vector<std::string> seeds = {
      "root ::= \"{\" (pair (\",\" pair)*)? \"}\"\npair ::= str \":\" num\nstr ::= \"\\\"\" [a-z]* \"\\\"\"\n"
      "num ::= [0-9]{1,3}\n",
      "root ::= (\"ab\" | [^\"\\\\]+ | .)? \"x\"{2,} # c\n", "root ::= (\n  \"a\"\n  | b\n)*\nb ::= \"b\"?\n",
      "root ::= \"\\x41\\u00e9\" [\\t\\n\\-\\]]{0,4}\n"};
  const std::string alphabet = "root::=|()[]^*+?{},.\"\\#- \nabx019\xce\xb1";
  const TokenTrie trie({"", "{", "}", "\"", "a", "ab", "b", " ", "1", ":", ",", "x", "\xce", "\xb1"}, {0});
  std::mt19937 rng(42);
  int parsed = 0, refused = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0:
          text[at] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          text.insert(at, 1, alphabet[rng() % alphabet.size()]);
          break;
        default:
          text.erase(at, 1);
      }
    }
    try {
      GrammarMatcher m(text);
      std::vector<int32_t> allowed;
      for (int step = 0; step < 6; ++step) {
        m.allowed_tokens(trie, allowed);
        if (allowed.empty()) break;
        m.accept_token(trie, allowed[static_cast<size_t>(step) % allowed.size()]);
      }
      ++parsed;
    } catch (const GrammarError&) {
      ++refused;
    }
  }
  check(parsed > 100 && refused > 100, "mutations both parse and fail (" + std::to_string(parsed) + " parsed, " +
                                           std::to_string(refused) + " refused), nothing else escapes");
}

}  // namespace

int main() {
  return run_suites({{"parse errors", test_parse_errors},
                     {"matching", test_matching},
                     {"masking", test_masking},
                     {"trie", test_trie},
                     {"mutations", test_mutations}});
}
