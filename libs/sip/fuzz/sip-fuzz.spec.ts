import { join } from 'node:path';

import { exercise, loadCorpus, runFuzz } from './sip-fuzzer';

describe('SIP parser fuzzing (short deterministic run; the long run is run-sip-fuzz.ts)', () => {
  const corpus = loadCorpus(join(__dirname, 'corpus'));

  it('accepts every corpus seed', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(10);
    for (const seed of corpus) expect(exercise(seed)).toBe('parsed');
  });

  it('survives 3000 mutants without an exception other than SipParseError', () => {
    const result = runFuzz({ corpus, seed: 1234, iterations: 3000 });
    expect(result.crashes).toBe(0);
    expect(result.parsed).toBeGreaterThan(100);
    expect(result.refused).toBeGreaterThan(100);
  });
});
