// Command line: fuzz the SIP parsers for a while (npx ts-node --transpile-only libs/sip/fuzz/run-sip-fuzz.ts).
//   --seconds N (default 600)  --seed N (default: time)  --replay FILE (run one input, exit 1 on a crash)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { exercise, loadCorpus, runFuzz } from './sip-fuzzer';

function flag(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

const replay = flag('replay');
if (replay) {
  process.stdout.write(`${exercise(readFileSync(replay))}\n`);
  process.exit(0);
}
const seconds = Number(flag('seconds') ?? 600);
const seed = Number(flag('seed') ?? Date.now() % 2 ** 31);
const corpus = loadCorpus(join(__dirname, 'corpus'));
process.stdout.write(`fuzzing ${corpus.length} seeds for ${seconds} s, seed ${seed}\n`);
const started = Date.now();
const result = runFuzz({
  corpus,
  seed,
  seconds,
  slowMs: 250,
  crashDir: join(process.cwd(), 'tmp', 'sip-fuzz-crashes'),
  onProgress: (r) => process.stdout.write(`${Math.round((Date.now() - started) / 1000)} s: ${JSON.stringify(r)}\n`),
});
const rate = Math.round(result.iterations / ((Date.now() - started) / 1000));
process.stdout.write(`done: ${JSON.stringify(result)} (${rate} inputs/s)\n`);
process.exit(result.crashes > 0 ? 1 : 0);
