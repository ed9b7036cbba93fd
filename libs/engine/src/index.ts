// @sovren/engine: the TypeScript face of the native inference engine, plus the GGUF writer and quantisers. The
// test-model generators and the float64 reference that specs and benchmarks use are at @sovren/engine/testing.
export * from './engine';
export * from './engine.types';
export * from './gguf';
export * from './grammar';
export * from './gpu-metrics';
export * from './quant';
export * from './whisper';
