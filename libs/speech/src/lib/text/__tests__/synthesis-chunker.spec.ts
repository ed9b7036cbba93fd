import { PhonemeVocabulary } from '../../phonemes/phoneme-vocabulary';
import { planChunks, PhonemisedClause } from '../synthesis-chunker';

const clause = (phonemes: string, punctuation = ',', endsSentence = false): PhonemisedClause => ({
  phonemes,
  punctuation,
  endsSentence,
});

describe('planChunks', () => {
  it('sends the first clause alone, then groups each sentence’s clauses', () => {
    const chunks = planChunks(
      [clause('aa'), clause('bb'), clause('cc', '.', true), clause('dd'), clause('ee', '?', true)],
      { maxTokens: 100 },
    );
    expect(chunks).toEqual(['aa,', 'bb, cc.', 'dd, ee?']);
  });

  it('starts a new chunk at a clause boundary when the next clause would pass the limit', () => {
    const chunks = planChunks([clause('x'), clause('aaaa'), clause('bbbb'), clause('cccc', '.', true)], {
      maxTokens: 11,
    });
    expect(chunks).toEqual(['x,', 'aaaa, bbbb,', 'cccc.']);
    expect(chunks.every((c) => [...c].length <= 11)).toBe(true);
  });

  it('cuts a clause longer than the limit at word boundaries, and a word longer than it by characters', () => {
    const chunks = planChunks([clause('aaa bbb ccc ddd', '.', true), clause('eeeeeeeeee', '.', true)], {
      maxTokens: 7,
    });
    expect(chunks).toEqual(['aaa bbb', 'ccc', 'ddd.', 'eeeeeee', 'eee.']);
  });

  it('measures with the model vocabulary when given one', () => {
    const vocab = new PhonemeVocabulary({ vocab: { a: 1, b: 2, ',': 3 } });
    // "ab?" has 2 known tokens: the unknown "?" costs nothing.
    expect(
      planChunks([clause('ab', '?', true), clause('ab', '?', true)], {
        maxTokens: 2,
        countTokens: (s) => vocab.count(s),
      }),
    ).toEqual(['ab?', 'ab?']);
    expect(() => planChunks([], { maxTokens: 0 })).toThrow(RangeError);
  });
});

describe('PhonemeVocabulary', () => {
  it('maps the longest symbol first, applies replacements and reports unknown characters', () => {
    const vocab = new PhonemeVocabulary({ vocab: { t: 1, tʃ: 2, ɹ: 3, ' ': 4 }, replacements: [['r', 'ɹ']] });
    expect(vocab.encode('tʃ r tx')).toEqual({ ids: [2, 4, 3, 4, 1], unknown: ['x'] });
    expect(() => new PhonemeVocabulary({ vocab: {} })).toThrow(/empty/);
    expect(() => new PhonemeVocabulary({ vocab: { a: -1 } })).toThrow(/invalid/);
  });
});
