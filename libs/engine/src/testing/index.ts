// @sovren/engine/testing: for tests and benchmarks only — generated test vocabularies, tiny and benchmark-shaped
// GGUF models, and the float64 reference forward pass the native engine is checked against.
export * from './test-vocab';
export * from './tiny-model';
export * from './reference-forward';
export * from './gbnf-matcher';
export * from './whisper-reference';
export * from './whisper-model-writer';
export * from './bert-reference';
export * from './bert-model-writer';
