// Public surface of the TypeScript GGUF library.
export * from './gguf-writer';
