// Builds the tokenizer's VocabSpec from the tokenizer.ggml.* GGUF keys, with llama.cpp's defaults for keys a
// file leaves out, and collects every end-of-generation token id.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf-reader.h"
#include "tokenizer/tokenizer.h"

namespace sovren {

// Special token ids as stated by the GGUF (-1 when absent), for info and for callers building prompts.
struct SpecialTokens {
  int32_t bos = -1, eos = -1, unk = -1, pad = -1, eot = -1;
  std::vector<int32_t> eog;  // every id that ends generation
  bool add_bos = false, add_eos = false;
};

// The special tokens a spec states, for model info.
SpecialTokens special_tokens_of(const VocabSpec& spec);

// Throws EngineError naming the key when a required key is missing or malformed.
VocabSpec read_vocab_spec(const GgufFile& gguf);

// A model's tokenizer with what its info reports; throws unless the vocabulary has n_vocab tokens (the rows of
// token_embd.weight).
struct ModelVocab {
  std::unique_ptr<Tokenizer> tokenizer;
  SpecialTokens special;
  std::string model;  // tokenizer.ggml.model
};
ModelVocab load_model_vocab(const GgufFile& gguf, uint32_t n_vocab);

}  // namespace sovren
