// Invariants of the generated test vocabularies: GGUF-ready layout, unique tokens, merges that name existing
// tokens and rebuild the training words, SentencePiece pieces reachable by merging, and determinism.
import {
  buildBpeVocab,
  buildSentencePieceVocab,
  byteLevelChars,
  tokenizerGgufKeys,
  TokenType,
  TRAINING_CORPUS,
  TestVocab,
} from './test-vocab';

function expectCommonInvariants(vocab: TestVocab) {
  const n = vocab.tokens.length;
  expect(new Set(vocab.tokens).size).toBe(n);
  expect(vocab.scores).toHaveLength(n);
  expect(vocab.tokenTypes).toHaveLength(n);
  for (const score of vocab.scores) expect(Number.isFinite(score)).toBe(true);
  for (const id of [vocab.bosId, vocab.eosId, vocab.unkId, vocab.eotId]) {
    if (id === null) continue;
    expect(Number.isInteger(id)).toBe(true);
    expect(id).toBeGreaterThanOrEqual(0);
    expect(id).toBeLessThan(n);
  }
  for (const [text, id] of Object.entries(vocab.specialTokens)) {
    expect(vocab.tokens[id]).toBe(text);
    expect([TokenType.CONTROL, TokenType.UNKNOWN]).toContain(vocab.tokenTypes[id]);
  }
  expect(vocab.chatTemplate).toContain('{% for message in');
}

// Applies merges by rank, as the engine's byte-level BPE does, to one pre-tokenized word.
function applyMerges(symbols: string[], ranks: Map<string, number>): string[] {
  let parts = [...symbols];
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < parts.length; i++) {
      const rank = ranks.get(`${parts[i]} ${parts[i + 1]}`);
      if (rank !== undefined && rank < bestRank) {
        bestRank = rank;
        best = i;
      }
    }
    if (best < 0) return parts;
    parts = [...parts.slice(0, best), parts[best]! + parts[best + 1]!, ...parts.slice(best + 2)];
  }
}

describe('buildBpeVocab', () => {
  const vocab = buildBpeVocab();

  it('lays out 256 byte tokens, merged tokens, then the Llama 3 control tokens', () => {
    expectCommonInvariants(vocab);
    expect(vocab.model).toBe('gpt2');
    expect(vocab.pre).toBe('llama-bpe');
    expect(vocab.tokens.slice(0, 256).sort()).toEqual([...byteLevelChars()].sort());
    expect(vocab.tokens[0]).toBe('!'); // GPT-2 order: printable bytes first
    expect(vocab.tokens.length).toBeGreaterThan(512);
    expect(vocab.tokens.length).toBeLessThanOrEqual(1024);
    for (const name of [
      '<|begin_of_text|>',
      '<|end_of_text|>',
      '<|start_header_id|>',
      '<|end_header_id|>',
      '<|eot_id|>',
    ]) {
      expect(vocab.tokenTypes[vocab.specialTokens[name]!]).toBe(TokenType.CONTROL);
    }
    expect(vocab.tokens[vocab.bosId]).toBe('<|begin_of_text|>');
    expect(vocab.tokens[vocab.eotId!]).toBe('<|eot_id|>');
    expect(vocab.unkId).toBeNull();
  });

  it('has merges whose two parts and product are tokens, each part existing before the merge', () => {
    const ids = new Map(vocab.tokens.map((t, i) => [t, i]));
    expect(vocab.merges.length).toBeGreaterThan(200);
    vocab.merges.forEach((merge) => {
      const parts = merge.split(' ');
      expect(parts).toHaveLength(2);
      const [left, right] = parts as [string, string];
      const product = ids.get(left + right);
      expect(ids.get(left)).toBeDefined();
      expect(ids.get(right)).toBeDefined();
      expect(product).toBeDefined();
      expect(ids.get(left)!).toBeLessThan(product!);
      expect(ids.get(right)!).toBeLessThan(product!);
    });
  });

  it('rebuilds frequent training words into single tokens by applying merges in rank order', () => {
    const chars = byteLevelChars();
    const ranks = new Map(vocab.merges.map((m, i) => [m, i]));
    const encoder = new TextEncoder();
    const ids = new Set(vocab.tokens);
    for (const word of [' the', 'The', ' model', ' café', ' Straße', ' engine']) {
      expect(TRAINING_CORPUS).toContain(word);
      const symbols = [...encoder.encode(word)].map((b) => chars[b]!);
      const merged = applyMerges(symbols, ranks);
      expect(merged).toHaveLength(1);
      expect(ids.has(merged[0]!)).toBe(true);
    }
  });

  it('is deterministic, hands out independent copies, and honours a smaller vocabSize', () => {
    // Passing the corpus explicitly bypasses the cache of built vocabularies, so this trains again.
    expect(buildBpeVocab({ corpus: TRAINING_CORPUS })).toEqual(vocab);
    const copy = buildBpeVocab();
    copy.tokens[0] = 'changed';
    expect(buildBpeVocab().tokens[0]).toBe('!');
    const small = buildBpeVocab({ vocabSize: 300 });
    expect(small.tokens).toHaveLength(300);
    expect(small.merges).toEqual(vocab.merges.slice(0, small.merges.length));
    expect(() => buildBpeVocab({ vocabSize: 100 })).toThrow(/vocabSize/);
  });

  it('lists the GGUF tokenizer keys', () => {
    const keys = tokenizerGgufKeys(vocab);
    expect(keys['tokenizer.ggml.model']).toBe('gpt2');
    expect(keys['tokenizer.ggml.merges']).toBe(vocab.merges);
    expect(keys['tokenizer.ggml.eot_token_id']).toBe(vocab.eotId);
    expect(keys).not.toHaveProperty('tokenizer.ggml.unknown_token_id');
    expect(keys['tokenizer.chat_template']).toContain('<|start_header_id|>');
  });
});

describe('buildSentencePieceVocab', () => {
  const vocab = buildSentencePieceVocab();

  it('lays out <unk>, <s>, </s>, the 256 byte tokens, then pieces', () => {
    expectCommonInvariants(vocab);
    expect(vocab.model).toBe('llama');
    expect(vocab.tokens.slice(0, 3)).toEqual(['<unk>', '<s>', '</s>']);
    expect(vocab.tokenTypes.slice(0, 3)).toEqual([TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL]);
    expect([vocab.unkId, vocab.bosId, vocab.eosId]).toEqual([0, 1, 2]);
    for (let b = 0; b < 256; b++) {
      expect(vocab.tokens[3 + b]).toBe(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
      expect(vocab.tokenTypes[3 + b]).toBe(TokenType.BYTE);
    }
    expect(vocab.merges).toEqual([]);
    expect(vocab.addSpacePrefix).toBe(true);
    expect(vocab.tokens.length).toBeGreaterThan(512);
    expect(vocab.tokens.length).toBeLessThanOrEqual(1024);
    expect(vocab.tokens).toContain('\u2581the');
    expect(vocab.tokens).toContain('\u2581');
  });

  it('scores pieces by log frequency, highest first, all storable as float32', () => {
    const pieceScores = vocab.scores.slice(259);
    for (let i = 1; i < pieceScores.length; i++) expect(pieceScores[i]!).toBeLessThan(pieceScores[i - 1]!);
    for (const score of pieceScores) {
      expect(score).toBeLessThan(0);
      expect(Math.fround(score)).toBe(score);
    }
  });

  it('can reach every multi-character piece by merging two shorter pieces', () => {
    const pieces = new Set(vocab.tokens.filter((_, i) => vocab.tokenTypes[i] === TokenType.NORMAL));
    for (const piece of pieces) {
      const chars = [...piece];
      if (chars.length < 2) continue;
      const reachable = chars.some(
        (_, cut) => cut > 0 && pieces.has(chars.slice(0, cut).join('')) && pieces.has(chars.slice(cut).join('')),
      );
      expect(reachable).toBe(true);
    }
  });

  it('leaves characters seen once to byte fallback', () => {
    expect(vocab.tokens).not.toContain('🚀');
  });

  it('is deterministic and rejects a vocabSize too small for its fixed tokens', () => {
    expect(buildSentencePieceVocab({ corpus: TRAINING_CORPUS })).toEqual(vocab);
    expect(() => buildSentencePieceVocab({ vocabSize: 10 })).toThrow(/vocabSize/);
    expect(tokenizerGgufKeys(vocab)['tokenizer.ggml.unknown_token_id']).toBe(0);
  });
});
