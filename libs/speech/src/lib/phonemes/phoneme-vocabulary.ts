// Maps IPA phoneme strings to a model's token ids, from the vocabulary in the model's config.json.

export interface PhonemeVocabularyConfig {
  /** One entry per symbol (a character, or a multi-character symbol such as a tie) to its id. */
  vocab: Record<string, number>;
  /** Replacements applied before lookup, in order (e.g. Kokoro's `r` → `ɹ`). */
  replacements?: ReadonlyArray<readonly [string, string]>;
}

export class PhonemeVocabulary {
  private readonly symbols: Map<string, number>;
  private readonly longest: number;
  private readonly replacements: ReadonlyArray<readonly [string, string]>;

  constructor(config: PhonemeVocabularyConfig) {
    const entries = Object.entries(config.vocab ?? {});
    if (entries.length === 0) throw new RangeError('the phoneme vocabulary is empty');
    for (const [symbol, id] of entries) {
      if (symbol.length === 0 || !Number.isInteger(id) || id < 0) {
        throw new RangeError(`invalid vocabulary entry ${JSON.stringify(symbol)}: ${JSON.stringify(id)}`);
      }
    }
    this.symbols = new Map(entries);
    this.longest = Math.max(...entries.map(([s]) => [...s].length));
    this.replacements = config.replacements ?? [];
  }

  get size(): number {
    return this.symbols.size;
  }

  /** Token ids for the phonemes (longest symbol first); `unknown` lists the characters the model has no id for. */
  encode(phonemes: string): { ids: number[]; unknown: string[] } {
    let text = phonemes;
    for (const [from, to] of this.replacements) text = text.split(from).join(to);
    const chars = [...text];
    const ids: number[] = [];
    const unknown: string[] = [];
    for (let i = 0; i < chars.length; ) {
      let matched = false;
      for (let len = Math.min(this.longest, chars.length - i); len > 0; len--) {
        const id = this.symbols.get(chars.slice(i, i + len).join(''));
        if (id !== undefined) {
          ids.push(id);
          i += len;
          matched = true;
          break;
        }
      }
      if (!matched) {
        unknown.push(chars[i]);
        i++;
      }
    }
    return { ids, unknown };
  }

  /** How many tokens the phonemes take (what the chunker measures). */
  count(phonemes: string): number {
    return this.encode(phonemes).ids.length;
  }
}
