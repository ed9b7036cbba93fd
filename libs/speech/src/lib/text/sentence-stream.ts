// Cuts streamed LLM text into pieces to synthesise as they complete: a sentence ends at . ! ? … followed by
// whitespace; the first piece of a reply may end at a clause mark (, ; : —) once it is long enough, so the first
// audio starts early; a run without punctuation is cut at a word boundary once it is too long to wait for.

export interface SentenceStreamOptions {
  /** The first piece may end at a clause mark once it has this many characters (default 24; 0: never). */
  firstClauseMinChars?: number;
  /** Later pieces may end at a clause mark once this long (default 120). */
  clauseMinChars?: number;
  /** A piece without any usable punctuation is cut at the last space before this many characters (default 240). */
  maxChars?: number;
}

const SENTENCE_END = /[.!?…]["')\]]*\s/g;
const CLAUSE_END = /[,;:—–]\s/g;

export class SentenceStream {
  private buffer = '';
  private emitted = 0;
  private readonly firstClauseMinChars: number;
  private readonly clauseMinChars: number;
  private readonly maxChars: number;

  constructor(options: SentenceStreamOptions = {}) {
    this.firstClauseMinChars = options.firstClauseMinChars ?? 24;
    this.clauseMinChars = options.clauseMinChars ?? 120;
    this.maxChars = options.maxChars ?? 240;
    if (!(Number.isInteger(this.maxChars) && this.maxChars >= 16)) {
      throw new RangeError(`maxChars must be an integer >= 16, got ${options.maxChars}`);
    }
  }

  /** Adds streamed text; returns the pieces it completed (trimmed, never empty). */
  push(text: string): string[] {
    this.buffer += text;
    const pieces: string[] = [];
    for (let piece = this.take(); piece !== null; piece = this.take()) pieces.push(piece);
    return pieces;
  }

  /** The end of the reply: whatever is left, as one piece (or none). */
  flush(): string[] {
    const rest = this.buffer.trim();
    this.buffer = '';
    if (rest.length === 0) return [];
    this.emitted++;
    return [rest];
  }

  private take(): string | null {
    const cut = this.cutPoint();
    if (cut === null) return null;
    const piece = this.buffer.slice(0, cut).trim();
    this.buffer = this.buffer.slice(cut).replace(/^\s+/, '');
    if (piece.length === 0) return this.buffer.length > 0 ? this.take() : null;
    this.emitted++;
    return piece;
  }

  /** Index just after the first usable boundary in the buffer, or null to wait for more text. */
  private cutPoint(): number | null {
    const sentence = firstMatchEnd(SENTENCE_END, this.buffer);
    if (sentence !== null && sentence <= this.maxChars) return sentence;
    const clauseMin =
      this.emitted === 0 && this.firstClauseMinChars > 0 ? this.firstClauseMinChars : this.clauseMinChars;
    const clause = firstMatchEnd(CLAUSE_END, this.buffer, clauseMin);
    if (clause !== null && clause <= this.maxChars) return clause;
    if (sentence !== null) return sentence;
    if (this.buffer.length < this.maxChars) return null;
    const space = this.buffer.lastIndexOf(' ', this.maxChars);
    return space > 0 ? space + 1 : this.maxChars;
  }
}

/** End index of the first match of `pattern` ending at or after `minEnd` characters. */
function firstMatchEnd(pattern: RegExp, text: string, minEnd = 0): number | null {
  pattern.lastIndex = 0;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    const end = m.index + m[0].length;
    if (end >= minEnd) return end;
  }
  return null;
}
