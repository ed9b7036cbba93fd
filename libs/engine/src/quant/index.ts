// Public surface of the TypeScript quantisation library: type geometry, F16/BF16 conversion, quantise/dequantise.
export * from './tensor-type';
export * from './float16';
export * from './quantize';
export * from './dequantize';
