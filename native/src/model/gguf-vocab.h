// Builds the tokenizer's VocabSpec from the tokenizer.ggml.* GGUF keys, with llama.cpp's defaults for keys a
// file leaves out, and collects every end-of-generation token id.
#pragma once
#include "gguf/gguf-reader.h"
#include "tokenizer/tokenizer.h"

namespace sovren {

// Throws EngineError naming the key when a required key is missing or malformed.
VocabSpec read_vocab_spec(const GgufFile& gguf);

}  // namespace sovren
