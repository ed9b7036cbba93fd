// The JS `WhisperModel` object and loadWhisper(path, {threads}): a Whisper model on the engine. transcribe() runs a
// batch of utterances on a worker thread (one encoder pass, one decoder step per token for all of them) and can be
// cancelled per utterance; logMel / encode / logits are synchronous inspection methods for tests and tools.
#pragma once
#include "binding/node-addon-api.h"

namespace sovren::binding {

// Registers the class and exports `loadWhisper` on `exports`.
void register_whisper(Napi::Env env, Napi::Object exports);

}  // namespace sovren::binding
