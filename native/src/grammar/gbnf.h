// GBNF grammars as llama.cpp defines them: `name ::= alternatives` rules with string literals ("..."), character
// classes ([a-z], [^"\\]), `.`, rule references, groups, and the repetitions * + ? {m} {m,} {m,n}; `#` comments.
// parse_gbnf() turns the text into flat rules over Unicode code points (repetitions become helper rules, as in
// llama.cpp), rejects undefined rules, left recursion and oversized grammars, and names the line and column of
// any syntax error. The root rule is `root`.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace sovren::grammar {

class GrammarError : public EngineError {
 public:
  using EngineError::EngineError;
};

enum class ElementType : uint8_t {
  End,      // end of a rule (and of its last alternative)
  Alt,      // end of one alternative, another follows
  RuleRef,  // value: rule id
  Chars,    // value: index into Grammar::char_sets; `negated` inverts the set
  Any,      // `.`: any code point
};

struct Element {
  ElementType type = ElementType::End;
  bool negated = false;
  uint32_t value = 0;
};

struct CharRange {
  uint32_t lo = 0;
  uint32_t hi = 0;  // inclusive
};

struct Grammar {
  // Every rule's alternatives, laid out one rule after another: elements... Alt elements... End.
  std::vector<Element> elements;
  std::vector<uint32_t> rule_start;  // first element of each rule
  std::vector<std::string> rule_names;
  std::vector<std::vector<CharRange>> char_sets;
  uint32_t root = 0;

  bool is_end_of_sequence(uint32_t element) const {
    const ElementType t = elements[element].type;
    return t == ElementType::End || t == ElementType::Alt;
  }
  // Whether the terminal element (Chars / Any) accepts code point `cp`.
  bool matches(uint32_t element, uint32_t cp) const;
  // Whether it accepts at least one code point in [lo, hi] (for partial UTF-8 sequences).
  bool matches_any_in(uint32_t element, uint32_t lo, uint32_t hi) const;
  // Start elements of each alternative of `rule` (an empty alternative starts at its Alt/End).
  std::vector<uint32_t> alternatives(uint32_t rule) const;
};

// Limits that keep a hostile grammar from exhausting memory: total elements after expanding repetitions.
constexpr size_t kMaxGrammarElements = 1u << 18;
constexpr size_t kMaxGrammarText = 4u << 20;

Grammar parse_gbnf(std::string_view text);  // throws GrammarError

}  // namespace sovren::grammar
