// Text <-> token ids for GGUF vocabularies: SentencePiece ("llama", score-driven bigram merging with byte
// fallback) and byte-level BPE ("gpt2", ranked merges after a regex-equivalent pre-tokenizer).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sovren {

// GGUF tokenizer.ggml.token_type values.
enum class TokenType : int32_t {
  UNDEFINED = 0,
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6
};

// Filled from the GGUF keys tokenizer.ggml.*. scores and token_types may be left empty (all 0 / all NORMAL).
struct VocabSpec {
  std::string model;  // "llama" (SentencePiece) or "gpt2" (byte-level BPE)
  std::string pre;    // gpt2 pre-tokenizer: "llama-bpe", "qwen2", "smollm", "gpt2", "default", ...
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> token_types;
  std::vector<std::string> merges;  // "left right", rank = index
  int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1, eot_id = -1;
  std::vector<int32_t> eog_ids;  // extra end-of-generation tokens
  bool add_bos = true, add_eos = false;
  bool add_space_prefix = true;  // SentencePiece: "▁" before the text (and after every special token)
};

// Immutable after construction; copies share the tables, so copying is cheap and thread-safe to read.
class Tokenizer {
 public:
  // Validates the spec (array sizes, ids in range, merges naming existing tokens); throws EngineError naming
  // the problem.
  explicit Tokenizer(VocabSpec spec);

  int32_t n_vocab() const;
  // add_special: BOS/EOS per spec. parse_special: CONTROL / USER_DEFINED token texts found in `text`
  // (e.g. "<|eot_id|>") become their ids; otherwise they are tokenized as plain text.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;
  // One text made of segments, tokenized as if concatenated (text runs across segment edges merge as usual), but
  // special-token texts are parsed only inside segments with parse_special: a chat template's markers are, the
  // message content between them is not, so "<|im_start|>" typed by a user stays plain text.
  struct Segment {
    std::string_view text;
    bool parse_special = false;
  };
  std::vector<int32_t> encode_segments(const std::vector<Segment>& segments, bool add_special) const;
  // Raw bytes of one token (not necessarily valid UTF-8 on its own). CONTROL tokens render as their text only
  // with render_special, else as nothing; UNKNOWN renders as U+FFFD unless render_special.
  std::string token_to_piece(int32_t id, bool render_special) const;
  // Concatenated pieces. SentencePiece: drops the space that add_space_prefix put at the start of the text
  // and after each special token, so decode(encode(s)) == s.
  std::string decode(const std::vector<int32_t>& ids, bool render_special) const;
  bool is_eog(int32_t id) const;
  int32_t bos_id() const;
  int32_t eos_id() const;
  const std::string& token_text(int32_t id) const;  // as stored in the vocab
  const VocabSpec& spec() const;

  struct Tables;  // built once by the constructor (tokenizer.cpp)

 private:
  std::shared_ptr<const Tables> tables_;
};

// Streams generated text: push() returns only complete UTF-8 characters, holding back a partial sequence
// until it completes (bytes that can never form a character come out as U+FFFD at once); flush() returns
// what is held, as U+FFFD. The output is the concatenation of token_to_piece: no SentencePiece space stripping,
// since generated tokens continue a prompt.
class StreamingDetokenizer {
 public:
  explicit StreamingDetokenizer(const Tokenizer& tok, bool render_special = false);
  std::string push(int32_t id);
  std::string flush();

 private:
  Tokenizer tokenizer_;  // shares the tables, so the detokenizer never dangles
  bool render_special_;
  std::string pending_;
};

}  // namespace sovren
