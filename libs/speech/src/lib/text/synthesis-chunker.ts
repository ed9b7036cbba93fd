// Groups phonemised clauses into model inputs: the first clause alone (first audio as early as possible), then
// the clauses of each sentence together while they fit the model's token limit; a clause that alone exceeds the
// limit is cut at word boundaries.

export interface PhonemisedClause {
  phonemes: string;
  /** Closing punctuation kept for prosody ('' for none). */
  punctuation: string;
  endsSentence: boolean;
}

export interface ChunkOptions {
  /** Most tokens one model call accepts, excluding any pad/boundary tokens. */
  maxTokens: number;
  /** Token count of a phoneme string (default: its characters). */
  countTokens?: (phonemes: string) => number;
  /** Emit the first clause as a chunk of its own (default true). */
  firstClauseAlone?: boolean;
}

export function planChunks(clauses: readonly PhonemisedClause[], options: ChunkOptions): string[] {
  const count = options.countTokens ?? ((s: string) => [...s].length);
  if (!Number.isInteger(options.maxTokens) || options.maxTokens < 1) {
    throw new RangeError(`maxTokens must be a positive integer, got ${options.maxTokens}`);
  }
  const pieces: Array<{ text: string; endsSentence: boolean }> = [];
  for (const clause of clauses) {
    const text = `${clause.phonemes}${clause.punctuation}`.trim();
    if (text.length === 0) continue;
    if (count(text) <= options.maxTokens) pieces.push({ text, endsSentence: clause.endsSentence });
    else {
      const parts = splitAtWords(text, options.maxTokens, count);
      parts.forEach((p, i) => pieces.push({ text: p, endsSentence: clause.endsSentence && i === parts.length - 1 }));
    }
  }
  const chunks: string[] = [];
  let current = '';
  let closed = true;
  pieces.forEach((piece, index) => {
    const joined = current === '' ? piece.text : `${current} ${piece.text}`;
    const alone = index === 1 && (options.firstClauseAlone ?? true);
    if (current !== '' && (closed || alone || count(joined) > options.maxTokens)) {
      chunks.push(current);
      current = piece.text;
    } else current = joined;
    closed = piece.endsSentence;
  });
  if (current !== '') chunks.push(current);
  return chunks;
}

function splitAtWords(text: string, maxTokens: number, count: (s: string) => number): string[] {
  const parts: string[] = [];
  let current = '';
  for (const word of text.split(' ')) {
    const joined = current === '' ? word : `${current} ${word}`;
    if (count(joined) <= maxTokens) {
      current = joined;
      continue;
    }
    if (current !== '') parts.push(current);
    current = word;
    // A single word longer than the limit is cut by characters.
    while (count(current) > maxTokens) {
      const chars = [...current];
      let take = maxTokens;
      while (take > 1 && count(chars.slice(0, take).join('')) > maxTokens) take--;
      parts.push(chars.slice(0, take).join(''));
      current = chars.slice(take).join('');
    }
  }
  if (current !== '') parts.push(current);
  return parts;
}
