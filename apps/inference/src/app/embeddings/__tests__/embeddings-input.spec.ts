// The embeddings route's own arithmetic: the input forms it accepts, and truncation to `dimensions`.
import { embeddingInputs } from '../embeddings.dto';
import { truncate } from '../embeddings.service';

describe('embeddingInputs', () => {
  it('lists one text, a batch of texts, one token array, or a batch of token arrays', () => {
    expect(embeddingInputs('a')).toEqual(['a']);
    expect(embeddingInputs(['a', 'b'])).toEqual(['a', 'b']);
    expect(embeddingInputs([1, 2, 3])).toEqual([[1, 2, 3]]);
    expect(embeddingInputs([[1], [2, 3]])).toEqual([[1], [2, 3]]);
  });
});

describe('truncate', () => {
  it('keeps the first components and scales them back to unit length', () => {
    const v = new Float32Array([0.6, 0.8, 0, 0]);
    expect(Array.from(truncate(new Float32Array([3, 4, 12]), 2))).toEqual([
      expect.closeTo(0.6, 6),
      expect.closeTo(0.8, 6),
    ]);
    expect(Array.from(truncate(v, 4))).toEqual(Array.from(v));
    // The input is left alone.
    const source = new Float32Array([1, 1, 1]);
    truncate(source, 1);
    expect(Array.from(source)).toEqual([1, 1, 1]);
  });

  it('leaves a zero prefix at zero rather than dividing by zero', () => {
    expect(Array.from(truncate(new Float32Array([0, 0, 1]), 2))).toEqual([0, 0]);
  });
});
