// Tensor element types as numbered in GGUF (ggml's `ggml_type`) and their block geometry; mirrors
// native/src/tensor/tensor-type.h so TypeScript and C++ agree on every layout.

export enum TensorType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q8_0 = 8,
  Q4_K = 12,
  Q6_K = 14,
  BF16 = 30,
}

export interface TensorTypeTraits {
  readonly type: TensorType;
  readonly name: string;
  /** Elements per block. */
  readonly blockElements: number;
  /** Bytes per block. */
  readonly blockBytes: number;
}

/** Super-block size of the K-quants (QK_K in ggml). */
export const QK_K = 256;

const TRAITS: ReadonlyMap<TensorType, TensorTypeTraits> = new Map<TensorType, TensorTypeTraits>([
  [TensorType.F32, { type: TensorType.F32, name: 'F32', blockElements: 1, blockBytes: 4 }],
  [TensorType.F16, { type: TensorType.F16, name: 'F16', blockElements: 1, blockBytes: 2 }],
  [TensorType.Q4_0, { type: TensorType.Q4_0, name: 'Q4_0', blockElements: 32, blockBytes: 18 }],
  [TensorType.Q8_0, { type: TensorType.Q8_0, name: 'Q8_0', blockElements: 32, blockBytes: 34 }],
  [TensorType.Q4_K, { type: TensorType.Q4_K, name: 'Q4_K', blockElements: QK_K, blockBytes: 144 }],
  [TensorType.Q6_K, { type: TensorType.Q6_K, name: 'Q6_K', blockElements: QK_K, blockBytes: 210 }],
  [TensorType.BF16, { type: TensorType.BF16, name: 'BF16', blockElements: 1, blockBytes: 2 }],
]);

export const SUPPORTED_TENSOR_TYPES: readonly TensorType[] = [...TRAITS.keys()];

export function tensorTypeTraits(type: TensorType): TensorTypeTraits {
  const traits = TRAITS.get(type);
  if (traits === undefined) throw new Error(`unsupported tensor type id ${String(type)}`);
  return traits;
}

/** Bytes taken by a row of `n` elements; throws when `n` is not a whole number of blocks. */
export function rowBytes(type: TensorType, n: number): number {
  const t = tensorTypeTraits(type);
  if (!Number.isSafeInteger(n) || n < 0 || n % t.blockElements !== 0) {
    throw new Error(`${t.name}: row length ${n} is not a multiple of the block size ${t.blockElements}`);
  }
  return (n / t.blockElements) * t.blockBytes;
}
