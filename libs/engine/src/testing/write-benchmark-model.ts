// Command line: writes a realistic-shape random model for benchmarks.
//   npx ts-node --transpile-only libs/engine/src/testing/write-benchmark-model.ts <out.gguf> [TYPE=Q4_0] [vocab=spm|bpe]
import { TensorType } from '../quant/tensor-type';
import { LLAMA_1B_SHAPE, writeBenchmarkModel } from './tiny-model';

async function main(): Promise<void> {
  const [out, typeName = 'Q4_0', vocab = 'spm'] = process.argv.slice(2);
  if (!out) throw new Error('usage: write-benchmark-model.ts <out.gguf> [F32|F16|BF16|Q8_0|Q4_0|Q4_K|Q6_K] [spm|bpe]');
  const type = TensorType[typeName as keyof typeof TensorType];
  if (type === undefined) throw new Error(`unknown tensor type '${typeName}'`);
  if (vocab !== 'spm' && vocab !== 'bpe') throw new Error(`vocab must be spm or bpe, got '${vocab}'`);
  const started = Date.now();
  const { bytes } = await writeBenchmarkModel(out, { type, vocab, shape: LLAMA_1B_SHAPE });
  console.log(
    `wrote ${out}: ${LLAMA_1B_SHAPE.name} ${typeName}, ${(bytes / 2 ** 20).toFixed(0)} MiB of weights in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(1);
});
