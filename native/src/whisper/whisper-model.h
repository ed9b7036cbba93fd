// A Whisper model on the engine's Backend (openai/whisper model.py): encoder (two convolutions + GELU, sinusoidal
// positions, pre-LN blocks, final LayerNorm) and decoder (token + learned positions, causal self-attention with a KV
// cache, cross-attention over the encoder output, MLP, final LayerNorm, logits against the token embedding).
// Several utterances share each encoder pass and each decoder step (their rows are stacked; attention keeps them
// apart with one span per utterance).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "whisper/whisper-file.h"
#include "whisper/whisper-tokenizer.h"

namespace sovren {

struct WhisperLoadOptions {
  int n_threads = 0;  // <= 0: one per usable core
};

// Special token ids, laid out after the regular tokens as whisper.cpp derives them from n_vocab.
struct WhisperSpecialTokens {
  bool multilingual = false;
  int32_t n_regular = 0;  // ids below this are tiktoken ranks
  int32_t eot = 0, sot = 0, first_language = 0, n_languages = 0;
  int32_t translate = 0, transcribe = 0, solm = 0, prev = 0, nosp = 0, no_timestamps = 0, timestamp_begin = 0;
};

WhisperSpecialTokens whisper_special_tokens(int32_t n_vocab);

struct WhisperLinear {
  WeightView w;
  const float* b = nullptr;  // null: no bias
};

struct WhisperNorm {
  const float* w = nullptr;
  const float* b = nullptr;
};

struct WhisperAttentionWeights {
  WhisperLinear query, key, value, out;
};

struct WhisperBlock {
  WhisperNorm attn_ln;
  WhisperAttentionWeights attn;
  WhisperNorm cross_ln;  // decoder only
  WhisperAttentionWeights cross;
  WhisperNorm mlp_ln;
  WhisperLinear mlp0, mlp2;
};

class WhisperModel;

// One utterance's decoder state: the cross-attention K/V of its encoder output (computed once) and the self-attention
// KV cache of the tokens fed so far.
class WhisperDecoderState {
 public:
  WhisperDecoderState(const WhisperModel& model, std::vector<float> encoded, int audio_ctx);
  int audio_ctx() const { return audio_ctx_; }
  int n_past() const { return n_past_; }
  void reset() { n_past_ = 0; }  // forget the tokens, keep the encoder output
  const std::vector<float>& encoded() const { return encoded_; }

 private:
  friend class WhisperModel;
  int audio_ctx_;
  int n_past_ = 0;
  std::vector<float> encoded_;                         // [audio_ctx][d_audio]
  std::vector<std::vector<float>> cross_k_, cross_v_;  // per layer [audio_ctx][d_text]
  std::vector<std::vector<float>> self_k_, self_v_;    // per layer [n_text_ctx][d_text]
};

class WhisperModel {
 public:
  static std::unique_ptr<WhisperModel> load(const std::string& path, const WhisperLoadOptions& options);
  ~WhisperModel();

  const WhisperHParams& hparams() const { return file_->hparams(); }
  const WhisperFile& file() const { return *file_; }
  const WhisperSpecialTokens& special() const { return special_; }
  Backend& backend() const { return *backend_; }
  // Byte-level BPE encoder over the file's regular tokens (for prompts).
  const WhisperTokenizer& tokenizer() const { return *tokenizer_; }
  // Tensor types as loaded (Q4_1 / Q5_0 / Q5_1 matrices are widened to F16 at load: the CPU kernels lack them).
  std::string weight_type_summary() const { return type_summary_; }

  // Time-major log-mel window [n_frames][n_mels] of pcm (<= 30 s); n_frames = 2 * audio_ctx.
  std::vector<float> log_mel(const float* pcm, size_t n, int audio_ctx) const;
  // Encoder output [audio_ctx][d] of each of n_batch mel windows ([2 * audio_ctx][n_mels] each), in one pass.
  std::vector<std::vector<float>> encode(const std::vector<const float*>& mels, int audio_ctx) const;
  std::unique_ptr<WhisperDecoderState> new_state(std::vector<float> encoded, int audio_ctx) const;

  // One decoder step over several states: states[i] gets tokens[i] at positions n_past.. and advances. Returns the
  // logits [rows][n_vocab] of every fed token (all_logits) or of each state's last token only (one row per state).
  std::vector<float> decode(const std::vector<WhisperDecoderState*>& states,
                            const std::vector<std::vector<int32_t>>& tokens, bool all_logits) const;

 private:
  friend class WhisperDecoderState;
  WhisperModel() = default;
  void bind_weights();
  WhisperLinear linear(const std::string& name, int64_t out, int64_t in, bool bias);
  WhisperNorm norm(const std::string& name, int64_t dim);
  const float* floats(const std::string& name, int64_t n_elements, int64_t ne0, int64_t ne1);
  const WhisperFileTensor& tensor(const std::string& name) const;
  WeightView matrix(const std::string& name, int64_t rows, int64_t cols);
  void compute_cross(WhisperDecoderState& state) const;

  std::unique_ptr<WhisperFile> file_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<WhisperTokenizer> tokenizer_;
  WhisperSpecialTokens special_;
  std::vector<std::vector<float>> owned_floats_;   // F32 vectors and positions, copied (the file has no alignment)
  std::vector<std::vector<uint8_t>> owned_bytes_;  // matrices, copied or widened to F16
  std::string type_summary_;

  WeightView conv1_, conv2_;
  const float* conv1_b_ = nullptr;
  const float* conv2_b_ = nullptr;
  const float* enc_pos_ = nullptr;
  std::vector<WhisperBlock> enc_blocks_;
  WhisperNorm ln_post_;
  WeightView token_embedding_;
  const float* dec_pos_ = nullptr;
  std::vector<WhisperBlock> dec_blocks_;
  WhisperNorm dec_ln_;
};

}  // namespace sovren
