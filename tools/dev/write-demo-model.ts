// Writes the development demo model: a small llama-family GGUF with RANDOM weights (its answers are gibberish),
// so that a fresh `npm start` has a model to call before a real one is added. The dev launcher runs it when
// $SOVREN_ROOT/models/llms holds no GGUF:
//   TS_NODE_PROJECT=tsconfig.base.json npx ts-node --transpile-only -r tsconfig-paths/register \
//     tools/dev/write-demo-model.ts <out.gguf>
import { writeTinyModel } from '@sovren/engine/testing';

/** Small enough to write and load in about a second, large enough to chat with (2048-token context). */
export const DEMO_MODEL_OPTIONS = {
  name: 'demo-random-weights',
  dim: 256,
  hiddenDim: 768,
  nLayers: 4,
  nHeads: 4,
  nKvHeads: 2,
  vocabSize: 512,
  contextLength: 2048,
  // Random weights would often pick an end token at once; muted, every answer has text up to max_tokens.
  muteEndOfGeneration: true,
  seed: 20_260_101,
};

async function main(): Promise<void> {
  const [out] = process.argv.slice(2);
  if (!out || !out.endsWith('.gguf')) throw new Error('usage: write-demo-model.ts <out.gguf>');
  await writeTinyModel(out, DEMO_MODEL_OPTIONS);
  process.stdout.write(`wrote ${out}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`write-demo-model: ${(error as Error).message}\n`);
  process.exit(1);
});
