// @sovren/speech: the speech text front end (normalisation, clause splitting, chunking under a model's token
// limit), espeak-ng phonemisation with a model vocabulary, and the endpointer that turns VAD output into turns.
export * from './lib/text/english-numbers';
export * from './lib/text/text-normaliser';
export * from './lib/text/english-normaliser';
export * from './lib/text/clause-splitter';
export * from './lib/text/synthesis-chunker';
export * from './lib/text/sentence-stream';
export * from './lib/phonemes/espeak.phonemiser';
export * from './lib/phonemes/phoneme-vocabulary';
export * from './lib/endpointer/endpointer';
export * from './lib/vad/silero-vad';
export * from './lib/tts/tts-model';
export * from './lib/tts/voice-pack.reader';
export * from './lib/runtime/package-files';
