// Turning an encoder's (or a decoder's final-norm) hidden states into one embedding per input: mean of the rows,
// the first row (BERT's [CLS]) or the last row (causal models, whose last token has seen the whole input), then
// optionally L2-normalised.
#pragma once
#include <optional>
#include <string_view>
#include <vector>

namespace sovren {

// Values of GGUF's `<arch>.pooling_type` (llama.cpp's numbering; 0 "none" and 4 "rank" are not embeddings).
enum class Pooling { Mean = 1, Cls = 2, Last = 3 };

std::string_view pooling_name(Pooling pooling);
std::optional<Pooling> pooling_from_name(std::string_view name);  // "mean", "cls", "last"

// rows: [n][dim], n >= 1. normalize: divide by the L2 norm (a zero vector stays zero).
std::vector<float> pool_embedding(const float* rows, int n, int dim, Pooling pooling, bool normalize);

}  // namespace sovren
