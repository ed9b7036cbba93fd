// Tokenizer tests: SentencePiece ids on a hand-traced vocabulary (score order, byte fallback, <unk>), byte-level
// BPE merge ranks, the pre-tokenizer regex scanners, special-token parsing, round trips of mixed text for both
// kinds, streaming detokenization across split UTF-8 characters, and rejection of malformed vocabularies.
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "tokenizer/bpe-pre-tokenizer.h"
#include "tokenizer/tokenizer.h"

#include "test-check.h"

using namespace sovren;

namespace {

std::string ids_text(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
  return s + "]";
}

std::string escaped(const std::string& s) {
  std::string out;
  for (const unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  return out;
}

void check_ids(const std::vector<int32_t>& got, const std::vector<int32_t>& want, const std::string& what) {
  check(got == want, what + ": got " + ids_text(got) + ", want " + ids_text(want));
}

void check_text(const std::string& got, const std::string& want, const std::string& what) {
  check(got == want, what + ": got \"" + escaped(got) + "\", want \"" + escaped(want) + "\"");
}

void check_throws(const std::function<void()>& fn, const std::string& needle, const std::string& what) {
  try {
    fn();
    check(false, what + ": no EngineError thrown");
  } catch (const EngineError& e) {
    check(std::string(e.what()).find(needle) != std::string::npos,
          what + ": message \"" + e.what() + "\" does not mention \"" + needle + "\"");
  }
}

constexpr int32_t kNormal = static_cast<int32_t>(TokenType::NORMAL);
constexpr int32_t kControl = static_cast<int32_t>(TokenType::CONTROL);
constexpr int32_t kUnknown = static_cast<int32_t>(TokenType::UNKNOWN);
constexpr int32_t kUserDefined = static_cast<int32_t>(TokenType::USER_DEFINED);
constexpr int32_t kByte = static_cast<int32_t>(TokenType::BYTE);

// ---- SentencePiece vocabulary ----------------------------------------------------------------------------
// ids: 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then the pieces below in order.
struct SpmPiece {
  const char* text;
  float score;
};
const SpmPiece kSpmPieces[] = {
    {"\xE2\x96\x81", -1.0f},       // 259 ▁
    {"H", -10.0f},                 // 260
    {"e", -10.0f},                 // 261
    {"l", -10.0f},                 // 262
    {"o", -10.0f},                 // 263
    {"w", -10.0f},                 // 264
    {"r", -10.0f},                 // 265
    {"d", -10.0f},                 // 266
    {"a", -10.0f},                 // 267
    {"b", -10.0f},                 // 268
    {"c", -10.0f},                 // 269
    {"ll", -2.0f},                 // 270
    {"or", -2.5f},                 // 271
    {"He", -3.0f},                 // 272
    {"\xE2\x96\x81w", -3.5f},      // 273 ▁w
    {"llo", -4.0f},                // 274
    {"Hello", -5.0f},              // 275
    {"\xE2\x96\x81Hello", -6.0f},  // 276 ▁Hello
    {"ld", -7.0f},                 // 277
    {"orld", -4.5f},               // 278
    {"\xE2\x96\x81world", -5.5f},  // 279 ▁world
    {"ab", -1.5f},                 // 280
    {"bc", -1.2f},                 // 281
    {"<|user|>", 0.0f},            // 282 user-defined
};
constexpr int32_t kSpmSpace = 259, kSpmH = 260, kSpmA = 267, kSpmB = 268, kSpmC = 269, kSpmHello = 276, kSpmWorld = 279,
                  kSpmBc = 281, kSpmUser = 282;
int32_t spm_byte(int b) { return 3 + b; }

VocabSpec spm_spec(bool with_byte_tokens = true) {
  VocabSpec spec;
  spec.model = "llama";
  spec.tokens = {"<unk>", "<s>", "</s>"};
  spec.scores = {0, 0, 0};
  spec.token_types = {kUnknown, kControl, kControl};
  if (with_byte_tokens) {
    for (int b = 0; b < 256; ++b) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "<0x%02X>", b);
      spec.tokens.push_back(buf);
      spec.scores.push_back(0);
      spec.token_types.push_back(kByte);
    }
  }
  for (const SpmPiece& piece : kSpmPieces) {
    spec.tokens.push_back(piece.text);
    spec.scores.push_back(piece.score);
    spec.token_types.push_back(std::string(piece.text) == "<|user|>" ? kUserDefined : kNormal);
  }
  spec.unk_id = 0;
  spec.bos_id = 1;
  spec.eos_id = 2;
  return spec;
}

void test_sentencepiece_ids() {
  const Tokenizer tok(spm_spec());
  check(tok.n_vocab() == 283, "SentencePiece vocabulary size");
  // Traced by hand: ll(-2) > or(-2.5) > He(-3) > ▁w(-3.5) > llo(-4) > Hello(-5) > ▁Hello(-6) > ld(-7) > orld > ▁world.
  check_ids(tok.encode("Hello world", true, false), {1, kSpmHello, kSpmWorld}, "'Hello world' with BOS");
  check_ids(tok.encode("Hello world", false, false), {kSpmHello, kSpmWorld}, "'Hello world' without BOS");
  // "▁abc": bigrams ab(-1.5) and bc(-1.2); the higher score wins, leaving a alone.
  check_ids(tok.encode("abc", false, false), {kSpmSpace, kSpmA, kSpmBc}, "best-scoring bigram merges first");
  // Equal scores would break ties to the left; here "ab" only wins when "bc" is not available.
  check_ids(tok.encode("ab", false, false), {kSpmSpace, 280}, "'ab' merges");
  check_ids(tok.encode("", true, false), {1}, "empty text is just BOS");
  check_ids(tok.encode("", false, false), {}, "empty text without specials is empty");
  // Byte fallback: 'é' (C3 A9) and '\n' are not pieces.
  check_ids(tok.encode("H\xC3\xA9\n", false, false), {kSpmSpace, kSpmH, spm_byte(0xC3), spm_byte(0xA9), spm_byte(0x0A)},
            "unknown characters fall back to <0xNN> byte tokens");
  // Without byte tokens the unknown character becomes one <unk>.
  const Tokenizer no_bytes(spm_spec(false));
  const int32_t h_no_bytes = 3 + 1;  // ids shift down by 256
  check_ids(no_bytes.encode("H\xC3\xA9", false, false), {3, h_no_bytes, 0}, "<unk> only without byte tokens");

  VocabSpec with_eos = spm_spec();
  with_eos.add_eos = true;
  check_ids(Tokenizer(with_eos).encode("Hello", true, false), {1, kSpmHello, 2}, "add_eos appends EOS");
}

void test_sentencepiece_specials_and_decode() {
  const Tokenizer tok(spm_spec());
  // A space prefix follows every special token, as in llama.cpp.
  check_ids(tok.encode("<s>Hello</s>", false, true), {1, kSpmHello, 2}, "parse_special turns <s> and </s> into ids");
  check_ids(tok.encode("<s>", false, false), {kSpmSpace, spm_byte('<'), spm_byte('s'), spm_byte('>')},
            "without parse_special '<s>' is plain text");
  check_ids(tok.encode("Hello<|user|>", false, true), {kSpmHello, kSpmUser}, "user-defined token parsed");
  const std::vector<int32_t> user_plain = tok.encode("<|user|>", false, false);
  check(user_plain.size() == 9 && user_plain[1] == spm_byte('<'),
        "user-defined text is bytes without parse_special: " + ids_text(user_plain));

  check_text(tok.decode({1, kSpmHello, kSpmWorld, 2}, false), "Hello world",
             "decode drops control tokens and the prefix space");
  check_text(tok.decode({1, kSpmHello, kSpmWorld, 2}, true), "<s>Hello world</s>", "decode renders control tokens");
  check_text(tok.token_to_piece(kSpmWorld, false), " world", "'▁' renders as a space");
  check_text(tok.token_to_piece(spm_byte(0x0A), false), "\n", "byte token renders as its byte");
  check_text(tok.token_to_piece(1, false), "", "control token renders empty without render_special");
  check_text(tok.token_to_piece(1, true), "<s>", "control token renders with render_special");
  check_text(tok.token_text(kSpmHello), "\xE2\x96\x81Hello", "token_text is the stored text");
  check(tok.is_eog(2) && !tok.is_eog(1) && !tok.is_eog(kSpmHello), "EOS is end-of-generation, BOS is not");
  check(tok.bos_id() == 1 && tok.eos_id() == 2, "bos_id / eos_id");
  check_throws([&] { tok.token_to_piece(283, false); }, "283", "token_to_piece rejects an id past the vocabulary");
  check_throws([&] { tok.decode({-1}, false); }, "-1", "decode rejects a negative id");
}

// ---- byte-level BPE vocabulary ---------------------------------------------------------------------------
std::string byte_level_char(int b) {
  // GPT-2 bytes_to_unicode, written out independently of the implementation.
  int cp = b;
  const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  if (!printable) {
    int n = 0;
    for (int x = 0; x < b; ++x) {
      if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) ++n;
    }
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// ids 0..255: byte b's stand-in character; then merge products; then specials.
VocabSpec bpe_spec(const std::string& pre, std::vector<std::string> merges) {
  VocabSpec spec;
  spec.model = "gpt2";
  spec.pre = pre;
  for (int b = 0; b < 256; ++b) spec.tokens.push_back(byte_level_char(b));
  for (const std::string& merge : merges) {
    const size_t space = merge.find(' ');
    spec.tokens.push_back(merge.substr(0, space) + merge.substr(space + 1));
  }
  spec.merges = std::move(merges);
  spec.token_types.assign(spec.tokens.size(), kNormal);
  for (const char* special : {"<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"}) {
    spec.tokens.push_back(special);
    spec.token_types.push_back(kControl);
  }
  const int32_t n = static_cast<int32_t>(spec.tokens.size());
  spec.bos_id = n - 3;
  spec.eos_id = n - 2;
  spec.eot_id = n - 1;
  return spec;
}

const std::vector<std::string> kHelloMerges = {
    "\xC4\xA0 w",      // 256 Ġw  (Ġ is the space stand-in)
    "o r",             // 257 or
    "\xC4\xA0w or",    // 258 Ġwor
    "l d",             // 259 ld
    "\xC4\xA0wor ld",  // 260 Ġworld
    "H e",             // 261 He
    "l l",             // 262 ll
    "He ll",           // 263 Hell
    "Hell o",          // 264 Hello
    "e l",             // 265 el
};

void test_bpe_merges() {
  const Tokenizer tok(bpe_spec("gpt2", kHelloMerges));
  const int32_t bos = tok.bos_id();
  check_ids(tok.encode("Hello world", true, false), {bos, 264, 260}, "'Hello world' merges to Hello + Ġworld");
  // "ell": (e,l) has rank 9 and (l,l) rank 6, so ll merges first.
  check_ids(tok.encode("ell", false, false), {'e', 262}, "lower merge rank applies first");
  std::vector<std::string> swapped = kHelloMerges;
  swapped[6] = "e l";
  swapped[9] = "l l";
  const Tokenizer swapped_tok(bpe_spec("gpt2", swapped));
  // Now (e,l) has rank 6: "el" forms first and blocks "ll". Token ids follow the merge list: el = 262.
  check_ids(swapped_tok.encode("ell", false, false), {262, 'l'}, "swapping merge ranks changes the result");
  // Bytes with no merges stay single byte tokens: '!' is byte 33, token 33; space is byte 32, token 32.
  check_ids(tok.encode("Hi !", false, false), {'H', 'i', ' ', '!'}, "unmerged bytes map to byte tokens");
  check_ids(tok.encode("\xC3\xA9", false, false), {0xC3, 0xA9}, "multi-byte character as its bytes");
}

void test_bpe_specials() {
  const Tokenizer tok(bpe_spec("llama-bpe", kHelloMerges));
  const int32_t bot = tok.bos_id(), eot = tok.spec().eot_id;
  check_ids(tok.encode("<|begin_of_text|>Hello<|eot_id|>", false, true), {bot, 264, eot},
            "parse_special turns control texts into their ids");
  const std::vector<int32_t> plain = tok.encode("<|eot_id|>", false, false);
  check(plain.size() > 1 && plain[0] == '<',
        "without parse_special a control text is tokenized as bytes: " + ids_text(plain));
  check(tok.is_eog(eot) && tok.is_eog(tok.eos_id()) && !tok.is_eog(bot), "EOT and EOS end generation");
  check_text(tok.decode({bot, 264, 260, eot}, false), "Hello world", "BPE decode skips control tokens");
  check_text(tok.decode({bot, 264, 260, eot}, true), "<|begin_of_text|>Hello world<|eot_id|>",
             "BPE decode renders them");
  check_text(tok.token_to_piece(256, false), " w", "Ġ decodes to a space");
  // Llama 3 takes a whole word that is a token as is (ignore_merges), even if the merges would not build it.
  VocabSpec extra = bpe_spec("llama-bpe", kHelloMerges);
  extra.tokens.push_back("xyz");
  extra.token_types.push_back(kNormal);
  const Tokenizer with_word(extra);
  check_ids(with_word.encode("xyz", false, false), {static_cast<int32_t>(extra.tokens.size()) - 1},
            "Llama 3 pre-tokenizer uses a whole-word token directly");
  VocabSpec gpt2_extra = extra;
  gpt2_extra.pre = "gpt2";
  check_ids(Tokenizer(gpt2_extra).encode("xyz", false, false), {'x', 'y', 'z'}, "GPT-2 builds words from merges only");
}

void check_split(BpePreTokenizer kind, const std::string& text, const std::vector<std::string>& want,
                 const std::string& what) {
  std::vector<TextSpan> spans;
  split_bpe_words(text, kind, spans);
  std::vector<std::string> got;
  for (const TextSpan& span : spans) got.push_back(text.substr(span.offset, span.length));
  std::string got_text, want_text;
  for (const auto& s : got) got_text.append("|").append(escaped(s));
  for (const auto& s : want) want_text.append("|").append(escaped(s));
  check(got == want, what + ": got " + got_text + ", want " + want_text);
}

void test_pre_tokenizers() {
  // Expected words come from running the reference regexes (Unicode-aware) on the same text.
  check_split(BpePreTokenizer::kLlama3, "Hello world's 12345 na\xC3\xAFve  \n\n\t b!!!\n",
              {"Hello", " world", "'s", " ", "123", "45", " na\xC3\xAFve", "  \n\n", "\t", " b", "!!!\n"},
              "Llama 3: contractions, 3-digit groups, accents, newline runs, trailing punctuation");
  check_split(BpePreTokenizer::kLlama3, "I'VE \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x91\x8B\xF0\x9F\x8F\xBD x",
              {"I", "'VE", " \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", " \xF0\x9F\x91\x8B\xF0\x9F\x8F\xBD", " x"},
              "Llama 3: case-insensitive contractions, CJK letters, emoji as punctuation");
  check_split(BpePreTokenizer::kQwen2, "ab 12345", {"ab", " ", "1", "2", "3", "4", "5"}, "Qwen2: one digit per word");
  check_split(BpePreTokenizer::kGpt2, "I'm   here 12345 ...", {"I", "'m", "  ", " here", " 12345", " ..."},
              "GPT-2: space runs leave one space to the next word, digits keep their space");
  check_split(BpePreTokenizer::kGpt2, "HE'LL", {"HE", "'", "LL"}, "GPT-2: contractions are case-sensitive");
  check_split(BpePreTokenizer::kGpt2Digits, "a 123b", {"a", " ", "1", "2", "3", "b"}, "SmolLM: digits split first");
  check_split(BpePreTokenizer::kLlama3, "", {}, "empty text has no words");
  check_split(BpePreTokenizer::kLlama3, "a\xFF\xFE b", {"a", "\xFF\xFE", " b"},
              "invalid UTF-8 bytes are kept, as punctuation");
  check(bpe_pre_tokenizer_from_name("llama-bpe") == BpePreTokenizer::kLlama3, "llama-bpe selects the Llama 3 scanner");
  check(bpe_pre_tokenizer_from_name("qwen2") == BpePreTokenizer::kQwen2, "qwen2 selects the Qwen2 scanner");
  check(bpe_pre_tokenizer_from_name("default") == BpePreTokenizer::kGpt2, "default selects GPT-2");
}

const std::vector<std::string> kRoundTripTexts = {
    "Hello world",
    "caf\xC3\xA9 na\xC3\xAFve \xC3\x9C"
    "ber Stra\xC3\x9F"
    "e",
    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE6\x96\x87",
    "wave \xF0\x9F\x91\x8B\xF0\x9F\x8F\xBD!",
    "a  \n\n\t b",
    "   leading spaces",
    "trailing spaces   ",
    " ",
    "\n",
    "int main() { return 0; }\n\tx += 12345;",
    "it's I'LL they'd 3.14159",
    "<s> looks special but is text",
};

void test_round_trips() {
  const Tokenizer spm(spm_spec());
  const Tokenizer spm_no_prefix = [] {
    VocabSpec spec = spm_spec();
    spec.add_space_prefix = false;
    return Tokenizer(spec);
  }();
  std::vector<std::pair<std::string, Tokenizer>> tokenizers = {{"SentencePiece", spm},
                                                               {"SentencePiece no prefix", spm_no_prefix}};
  for (const char* pre : {"llama-bpe", "qwen2", "gpt2", "smollm"}) {
    tokenizers.emplace_back(std::string("BPE ") + pre, Tokenizer(bpe_spec(pre, kHelloMerges)));
  }
  for (const auto& [name, tok] : tokenizers) {
    for (const std::string& text : kRoundTripTexts) {
      const std::vector<int32_t> ids = tok.encode(text, true, false);
      check_text(tok.decode(ids, false), text, name + " round trip");
    }
    // With parse_special, special tokens come back rendered in place.
    const std::string with_specials =
        tok.token_text(tok.bos_id()) + "Hi there" + tok.token_text(tok.eos_id()) + "  next";
    check_text(tok.decode(tok.encode(with_specials, false, true), true), with_specials,
               name + " round trip with specials");
  }
}

void test_streaming_detokenizer() {
  const Tokenizer bpe(bpe_spec("llama-bpe", kHelloMerges));
  // 👋 = F0 9F 91 8B, one byte token each: nothing comes out until the character completes.
  StreamingDetokenizer stream(bpe);
  std::string out;
  check_text(stream.push(264), "Hello", "complete text passes straight through");
  check_text(stream.push(0xF0), "", "first byte of an emoji is held");
  check_text(stream.push(0x9F), "", "second byte is held");
  check_text(stream.push(0x91), "", "third byte is held");
  check_text(stream.push(0x8B), "\xF0\x9F\x91\x8B", "fourth byte releases the emoji");
  check_text(stream.flush(), "", "nothing is left after a complete character");
  check_text(stream.push(0xE6), "", "start of a CJK character is held");
  check_text(stream.flush(), "\xEF\xBF\xBD", "flush turns an incomplete character into U+FFFD");
  check_text(stream.push(0xFF), "\xEF\xBF\xBD", "a byte that can never start a character becomes U+FFFD at once");
  check_text(stream.push(0xC3), "", "a 2-byte lead is held");
  check_text(stream.push('A'),
             "\xEF\xBF\xBD"
             "A",
             "a broken sequence yields U+FFFD, then the next character");

  // SentencePiece byte tokens, with control tokens hidden unless render_special.
  const Tokenizer spm(spm_spec());
  const std::vector<int32_t> ids = spm.encode("x\xF0\x9F\x91\x8B y", true, false);
  StreamingDetokenizer spm_stream(spm);
  std::string streamed;
  for (const int32_t id : ids) streamed += spm_stream.push(id);
  streamed += spm_stream.flush();
  check_text(streamed, " x\xF0\x9F\x91\x8B y", "SentencePiece stream equals the concatenated pieces");
  StreamingDetokenizer special_stream(spm, true);
  check_text(special_stream.push(1), "<s>", "render_special shows control tokens in the stream");
  check_throws([&] { special_stream.push(100000); }, "100000", "streaming rejects an out-of-range id");
}

void test_validation() {
  check_throws(
      [] {
        VocabSpec s = spm_spec();
        s.model = "wordpiece";
        Tokenizer t(s);
      },
      "wordpiece", "unknown model");
  check_throws(
      [] {
        VocabSpec s = bpe_spec("mystery", kHelloMerges);
        Tokenizer t(s);
      },
      "mystery", "unknown pre-tokenizer");
  check_throws(
      [] {
        VocabSpec s = spm_spec();
        s.scores.pop_back();
        Tokenizer t(s);
      },
      "scores", "scores size mismatch");
  check_throws(
      [] {
        VocabSpec s = spm_spec();
        s.token_types.push_back(1);
        Tokenizer t(s);
      },
      "token_type", "types size mismatch");
  check_throws(
      [] {
        VocabSpec s = spm_spec();
        s.token_types[5] = 9;
        Tokenizer t(s);
      },
      "token_type[5]", "bad token type");
  check_throws(
      [] {
        VocabSpec s = spm_spec();
        s.bos_id = 283;
        Tokenizer t(s);
      },
      "bos_token_id", "BOS out of range");
  check_throws(
      [] {
        VocabSpec s = spm_spec();
        s.eos_id = -7;
        Tokenizer t(s);
      },
      "eos_token_id", "negative EOS");
  check_throws(
      [] {
        VocabSpec s = spm_spec();
        s.bos_id = -1;
        Tokenizer t(s);
      },
      "add_bos", "add_bos without a BOS id");
  check_throws(
      [] {
        VocabSpec s = spm_spec();
        s.eog_ids = {9999};
        Tokenizer t(s);
      },
      "9999", "EOG id out of range");
  check_throws(
      [] {
        VocabSpec s = spm_spec();
        s.tokens.clear();
        s.scores.clear();
        s.token_types.clear();
        Tokenizer t(s);
      },
      "empty", "empty vocabulary");
  check_throws(
      [] {
        VocabSpec s = bpe_spec("gpt2", kHelloMerges);
        s.merges.push_back("qq zz");
        Tokenizer t(s);
      },
      "merges[10]", "merge naming a missing token");
  check_throws(
      [] {
        VocabSpec s = bpe_spec("gpt2", kHelloMerges);
        s.merges.push_back("nospace");
        Tokenizer t(s);
      },
      "no space", "merge without a separator");
  // Scores and types may be absent: defaults are zeros and NORMAL, with the declared ids as control tokens.
  VocabSpec bare = bpe_spec("gpt2", kHelloMerges);
  bare.token_types.clear();
  const Tokenizer bare_tok(bare);
  check(bare_tok.spec().scores.size() == bare.tokens.size(), "missing scores default to one per token");
  check_ids(bare_tok.encode("<|end_of_text|>", false, true), {bare_tok.eos_id()},
            "declared EOS is special without types");
}

}  // namespace

int main() {
  return run_suites({
      {"sentencepiece ids", test_sentencepiece_ids},
      {"sentencepiece specials/decode", test_sentencepiece_specials_and_decode},
      {"bpe merges", test_bpe_merges},
      {"bpe specials", test_bpe_specials},
      {"pre-tokenizers", test_pre_tokenizers},
      {"round trips", test_round_trips},
      {"streaming detokenizer", test_streaming_detokenizer},
      {"validation", test_validation},
  });
}
