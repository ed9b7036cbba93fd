// @sovren/engine: the TypeScript face of the native inference engine, plus the GGUF writer, quantisers and
// test-model generators that the specs and benchmarks use.
export * from './engine';
export * from './gguf';
export * from './gpu-metrics';
export * from './quant';
export * from './testing/test-vocab';
export * from './testing/tiny-model';
export * from './testing/reference-forward';
