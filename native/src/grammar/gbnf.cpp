// GBNF parser (see gbnf.h). Follows llama.cpp's grammar-parser: newlines end a rule except inside parentheses,
// repetitions are rewritten into right-recursive helper rules, and rule ids are assigned on first mention.
#include "grammar/gbnf.h"

#include <algorithm>
#include <map>

namespace sovren::grammar {

bool Grammar::matches(uint32_t element, uint32_t cp) const {
  const Element& e = elements[element];
  if (e.type == ElementType::Any) return true;
  if (e.type != ElementType::Chars) return false;
  bool in = false;
  for (const CharRange& r : char_sets[e.value]) {
    if (cp >= r.lo && cp <= r.hi) {
      in = true;
      break;
    }
  }
  return in != e.negated;
}

bool Grammar::matches_any_in(uint32_t element, uint32_t lo, uint32_t hi) const {
  const Element& e = elements[element];
  if (e.type == ElementType::Any) return true;
  if (e.type != ElementType::Chars) return false;
  const std::vector<CharRange>& set = char_sets[e.value];
  if (!e.negated) {
    for (const CharRange& r : set) {
      if (r.lo <= hi && r.hi >= lo) return true;
    }
    return false;
  }
  // Negated: some code point of [lo, hi] lies outside every range. Walk [lo, hi] past the ranges covering it.
  uint32_t next = lo;
  bool advanced = true;
  while (advanced) {
    advanced = false;
    for (const CharRange& r : set) {
      if (r.lo <= next && r.hi >= next) {
        if (r.hi >= hi) return false;
        next = r.hi + 1;
        advanced = true;
      }
    }
  }
  return true;
}

std::vector<uint32_t> Grammar::alternatives(uint32_t rule) const {
  std::vector<uint32_t> starts;
  uint32_t pos = rule_start[rule];
  starts.push_back(pos);
  for (;; ++pos) {
    if (elements[pos].type == ElementType::End) break;
    if (elements[pos].type == ElementType::Alt) starts.push_back(pos + 1);
  }
  return starts;
}

namespace {

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Grammar parse() {
    if (text_.size() > kMaxGrammarText) {
      throw GrammarError("grammar is too large (" + std::to_string(text_.size()) + " bytes, at most " +
                         std::to_string(kMaxGrammarText) + ")");
    }
    size_t pos = skip_space(0, true);
    while (pos < text_.size()) pos = parse_rule(pos);
    return finish();
  }

 private:
  struct Rule {
    std::vector<Element> elements;
    bool defined = false;
    size_t first_use = std::string::npos;  // where an undefined rule was first referenced
  };

  [[noreturn]] void fail(size_t pos, const std::string& what) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    throw GrammarError("invalid grammar at line " + std::to_string(line) + ", column " + std::to_string(column) + ": " +
                       what);
  }

  char at(size_t pos) const { return pos < text_.size() ? text_[pos] : '\0'; }
  static bool is_word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  }
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }

  size_t skip_space(size_t pos, bool newline_ok) const {
    while (pos < text_.size()) {
      const char c = text_[pos];
      if (c == ' ' || c == '\t' || (newline_ok && (c == '\r' || c == '\n'))) {
        ++pos;
      } else if (c == '#') {
        while (pos < text_.size() && text_[pos] != '\r' && text_[pos] != '\n') ++pos;
      } else {
        break;
      }
    }
    return pos;
  }

  size_t parse_name(size_t pos) const {
    size_t end = pos;
    while (is_word_char(at(end))) ++end;
    if (end == pos) fail(pos, "expecting a rule name");
    return end;
  }

  uint32_t symbol_id(std::string_view name, size_t use_pos) {
    auto it = symbols_.find(std::string(name));
    if (it != symbols_.end()) return it->second;
    const auto id = static_cast<uint32_t>(rules_.size());
    symbols_.emplace(std::string(name), id);
    names_.emplace_back(name);
    rules_.emplace_back();
    rules_.back().first_use = use_pos;
    return id;
  }

  uint32_t generate_symbol(const std::string& base) {
    const auto id = static_cast<uint32_t>(rules_.size());
    const std::string name = base + "_" + std::to_string(id);
    symbols_.emplace(name, id);
    names_.push_back(name);
    rules_.emplace_back();
    return id;
  }

  void add_rule(uint32_t id, std::vector<Element> elements) {
    count_elements(elements.size());
    rules_[id].elements = std::move(elements);
    rules_[id].defined = true;
  }

  void count_elements(size_t n) {
    total_elements_ += n;
    if (total_elements_ > kMaxGrammarElements) {
      throw GrammarError("grammar is too large: more than " + std::to_string(kMaxGrammarElements) +
                         " elements after expanding repetitions");
    }
  }

  // One UTF-8 code point of the grammar text; malformed UTF-8 is an error.
  uint32_t decode_utf8(size_t& pos) const {
    const auto b0 = static_cast<uint8_t>(at(pos));
    int extra = 0;
    uint32_t cp = 0;
    if (b0 < 0x80) {
      cp = b0;
    } else if ((b0 & 0xE0) == 0xC0) {
      cp = b0 & 0x1F;
      extra = 1;
    } else if ((b0 & 0xF0) == 0xE0) {
      cp = b0 & 0x0F;
      extra = 2;
    } else if ((b0 & 0xF8) == 0xF0) {
      cp = b0 & 0x07;
      extra = 3;
    } else {
      fail(pos, "invalid UTF-8");
    }
    size_t p = pos + 1;
    for (int i = 0; i < extra; ++i, ++p) {
      const auto b = static_cast<uint8_t>(at(p));
      if (p >= text_.size() || (b & 0xC0) != 0x80) fail(pos, "invalid UTF-8");
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp > 0x10FFFF) fail(pos, "invalid UTF-8");
    pos = p;
    return cp;
  }

  uint32_t parse_hex(size_t& pos, int digits) const {
    uint32_t value = 0;
    for (int i = 0; i < digits; ++i, ++pos) {
      const char c = at(pos);
      uint32_t d;
      if (c >= '0' && c <= '9') {
        d = static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        d = static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        d = static_cast<uint32_t>(c - 'A' + 10);
      } else {
        fail(pos, "expecting " + std::to_string(digits) + " hex digits");
      }
      value = value * 16 + d;
    }
    if (value > 0x10FFFF) fail(pos, "code point out of range");
    return value;
  }

  // A literal character inside "..." or [...], escapes included.
  uint32_t parse_char(size_t& pos) {
    if (pos >= text_.size()) fail(pos, "unexpected end of input");
    if (text_[pos] != '\\') return decode_utf8(pos);
    const char c = at(pos + 1);
    pos += 2;
    switch (c) {
      case 'x':
        return parse_hex(pos, 2);
      case 'u':
        return parse_hex(pos, 4);
      case 'U':
        return parse_hex(pos, 8);
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case 'n':
        return '\n';
      case '\\':
      case '"':
      case '[':
      case ']':
      case '-':
      case '^':
      case '/':
        return static_cast<uint8_t>(c);
      default:
        fail(pos - 2, std::string("unknown escape '\\") + (c == '\0' ? std::string() : std::string(1, c)) + "'");
    }
  }

  uint32_t add_char_set(std::vector<CharRange> set) {
    char_sets_.push_back(std::move(set));
    return static_cast<uint32_t>(char_sets_.size() - 1);
  }

  size_t parse_int(size_t pos, uint64_t& value) const {
    if (!is_digit(at(pos))) fail(pos, "expecting an integer");
    value = 0;
    while (is_digit(at(pos))) {
      value = value * 10 + static_cast<uint64_t>(at(pos) - '0');
      if (value > kMaxGrammarElements) fail(pos, "repetition count too large");
      ++pos;
    }
    return pos;
  }

  void handle_repetitions(std::vector<Element>& out, size_t last_sym_start, const std::string& rule_name,
                          uint64_t min_times, uint64_t max_times, bool unbounded, size_t pos) {
    if (last_sym_start >= out.size()) fail(pos, "expecting a preceding item to repeat");
    if (!unbounded && max_times < min_times) fail(pos, "repetition maximum is below its minimum");
    const std::vector<Element> prev(out.begin() + static_cast<std::ptrdiff_t>(last_sym_start), out.end());
    if (min_times == 0) {
      out.resize(last_sym_start);
    } else {
      for (uint64_t i = 1; i < min_times; ++i) {
        count_elements(prev.size());
        out.insert(out.end(), prev.begin(), prev.end());
      }
    }
    uint32_t last_rec = 0;
    const uint64_t n_opt = unbounded ? 1 : max_times - min_times;
    for (uint64_t i = 0; i < n_opt; ++i) {
      std::vector<Element> rec = prev;
      const uint32_t rec_id = generate_symbol(rule_name);
      if (i > 0 || unbounded) rec.push_back({ElementType::RuleRef, false, i > 0 ? last_rec : rec_id});
      rec.push_back({ElementType::Alt, false, 0});
      rec.push_back({ElementType::End, false, 0});
      add_rule(rec_id, std::move(rec));
      last_rec = rec_id;
    }
    if (n_opt > 0) out.push_back({ElementType::RuleRef, false, last_rec});
  }

  size_t parse_sequence(size_t pos, const std::string& rule_name, std::vector<Element>& out, bool nested, int depth) {
    size_t last_sym_start = out.size();
    while (pos < text_.size()) {
      const char c = text_[pos];
      if (c == '"') {
        ++pos;
        last_sym_start = out.size();
        while (at(pos) != '"') {
          if (pos >= text_.size()) fail(pos, "unterminated string literal");
          const uint32_t cp = parse_char(pos);
          out.push_back({ElementType::Chars, false, add_char_set({{cp, cp}})});
        }
        pos = skip_space(pos + 1, nested);
      } else if (c == '[') {
        ++pos;
        last_sym_start = out.size();
        bool negated = false;
        if (at(pos) == '^') {
          negated = true;
          ++pos;
        }
        std::vector<CharRange> set;
        while (at(pos) != ']') {
          if (pos >= text_.size()) fail(pos, "unterminated character class");
          const uint32_t lo = parse_char(pos);
          uint32_t hi = lo;
          if (at(pos) == '-' && at(pos + 1) != ']') {
            ++pos;
            if (pos >= text_.size()) fail(pos, "unterminated character class");
            hi = parse_char(pos);
            if (hi < lo) fail(pos, "character range is reversed");
          }
          set.push_back({lo, hi});
        }
        out.push_back({ElementType::Chars, negated, add_char_set(std::move(set))});
        pos = skip_space(pos + 1, nested);
      } else if (is_word_char(c)) {
        const size_t end = parse_name(pos);
        last_sym_start = out.size();
        out.push_back({ElementType::RuleRef, false, symbol_id(text_.substr(pos, end - pos), pos)});
        pos = skip_space(end, nested);
      } else if (c == '(') {
        if (depth > 200) fail(pos, "groups nested too deeply");
        const uint32_t sub = generate_symbol(rule_name);
        pos = parse_alternates(skip_space(pos + 1, true), rule_name, sub, true, depth + 1);
        last_sym_start = out.size();
        out.push_back({ElementType::RuleRef, false, sub});
        if (at(pos) != ')') fail(pos, "expecting ')'");
        pos = skip_space(pos + 1, nested);
      } else if (c == '.') {
        last_sym_start = out.size();
        out.push_back({ElementType::Any, false, 0});
        pos = skip_space(pos + 1, nested);
      } else if (c == '*' || c == '+' || c == '?') {
        handle_repetitions(out, last_sym_start, rule_name, c == '+' ? 1 : 0, c == '?' ? 1 : 0, c != '?', pos);
        pos = skip_space(pos + 1, nested);
      } else if (c == '{') {
        const size_t brace = pos;
        pos = skip_space(pos + 1, nested);
        uint64_t min_times = 0, max_times = 0;
        bool unbounded = false;
        pos = skip_space(parse_int(pos, min_times), nested);
        if (at(pos) == ',') {
          pos = skip_space(pos + 1, nested);
          if (at(pos) == '}') {
            unbounded = true;
          } else {
            pos = skip_space(parse_int(pos, max_times), nested);
          }
        } else {
          max_times = min_times;
        }
        if (at(pos) != '}') fail(pos, "expecting '}'");
        handle_repetitions(out, last_sym_start, rule_name, min_times, max_times, unbounded, brace);
        pos = skip_space(pos + 1, nested);
      } else {
        break;
      }
      count_elements(0);
      if (out.size() > kMaxGrammarElements) fail(pos, "rule is too large");
    }
    return pos;
  }

  size_t parse_alternates(size_t pos, const std::string& rule_name, uint32_t rule_id, bool nested, int depth) {
    std::vector<Element> body;
    pos = parse_sequence(pos, rule_name, body, nested, depth);
    while (at(pos) == '|') {
      body.push_back({ElementType::Alt, false, 0});
      pos = parse_sequence(skip_space(pos + 1, true), rule_name, body, nested, depth);
    }
    body.push_back({ElementType::End, false, 0});
    add_rule(rule_id, std::move(body));
    return pos;
  }

  size_t parse_rule(size_t pos) {
    const size_t name_end = parse_name(pos);
    const std::string name(text_.substr(pos, name_end - pos));
    size_t p = skip_space(name_end, false);
    if (text_.substr(p, 3) != "::=") fail(p, "expecting '::=' after rule name '" + name + "'");
    const uint32_t id = symbol_id(name, pos);
    if (defined_here_.count(id)) fail(pos, "rule '" + name + "' is defined twice");
    defined_here_.emplace(id, pos);
    p = parse_alternates(skip_space(p + 3, true), name, id, false, 0);
    if (at(p) == '\r') {
      p += at(p + 1) == '\n' ? 2 : 1;
    } else if (at(p) == '\n') {
      ++p;
    } else if (p < text_.size()) {
      fail(p, std::string("unexpected '") + text_[p] + "'");
    }
    return skip_space(p, true);
  }

  // Rules whose alternatives can match the empty string.
  std::vector<bool> nullable_rules() const {
    std::vector<bool> nullable(rules_.size(), false);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < rules_.size(); ++r) {
        if (nullable[r]) continue;
        bool alt_nullable = true;
        for (const Element& e : rules_[r].elements) {
          if (e.type == ElementType::Alt || e.type == ElementType::End) {
            if (alt_nullable) {
              nullable[r] = true;
              changed = true;
              break;
            }
            alt_nullable = true;
          } else if (e.type != ElementType::RuleRef || !nullable[e.value]) {
            alt_nullable = false;
          }
        }
      }
    }
    return nullable;
  }

  // A rule that can reach itself without consuming input would make matching loop forever.
  void check_left_recursion() const {
    const std::vector<bool> nullable = nullable_rules();
    std::vector<std::vector<uint32_t>> left(rules_.size());
    for (size_t r = 0; r < rules_.size(); ++r) {
      bool at_start = true;
      for (const Element& e : rules_[r].elements) {
        if (e.type == ElementType::Alt || e.type == ElementType::End) {
          at_start = true;
        } else if (at_start) {
          if (e.type == ElementType::RuleRef) {
            left[r].push_back(e.value);
            at_start = nullable[e.value];
          } else {
            at_start = false;
          }
        }
      }
    }
    // Iterative DFS with colours: 0 unvisited, 1 on the path, 2 done.
    std::vector<uint8_t> colour(rules_.size(), 0);
    for (size_t start = 0; start < rules_.size(); ++start) {
      if (colour[start]) continue;
      std::vector<std::pair<uint32_t, size_t>> stack{{static_cast<uint32_t>(start), 0}};
      colour[start] = 1;
      while (!stack.empty()) {
        auto& [rule, next] = stack.back();
        if (next < left[rule].size()) {
          const uint32_t to = left[rule][next++];
          if (colour[to] == 1) throw GrammarError("invalid grammar: rule '" + names_[to] + "' is left-recursive");
          if (colour[to] == 0) {
            colour[to] = 1;
            stack.emplace_back(to, 0);
          }
        } else {
          colour[rule] = 2;
          stack.pop_back();
        }
      }
    }
  }

  Grammar finish() {
    for (size_t r = 0; r < rules_.size(); ++r) {
      if (!rules_[r].defined) fail(rules_[r].first_use, "undefined rule '" + names_[r] + "'");
    }
    auto root = symbols_.find("root");
    if (root == symbols_.end()) throw GrammarError("invalid grammar: no rule named 'root'");
    check_left_recursion();
    Grammar g;
    g.root = root->second;
    g.rule_names = names_;
    g.char_sets = std::move(char_sets_);
    for (Rule& rule : rules_) {
      g.rule_start.push_back(static_cast<uint32_t>(g.elements.size()));
      g.elements.insert(g.elements.end(), rule.elements.begin(), rule.elements.end());
    }
    return g;
  }

  std::string_view text_;
  std::map<std::string, uint32_t> symbols_;
  std::map<uint32_t, size_t> defined_here_;
  std::vector<std::string> names_;
  std::vector<Rule> rules_;
  std::vector<std::vector<CharRange>> char_sets_;
  size_t total_elements_ = 0;
};

}  // namespace

Grammar parse_gbnf(std::string_view text) { return Parser(text).parse(); }

}  // namespace sovren::grammar
