// Splits normalised text into clauses for streaming synthesis: a clause ends at sentence punctuation (. ! ? …) or
// at a clause mark (, ; : —) followed by a space, so the first audio can start after the first clause.

export interface Clause {
  /** The clause's words without its closing punctuation. */
  text: string;
  /** The punctuation that closed it ('' at the end of input without any); models use it for prosody. */
  punctuation: string;
  /** True when the clause closes a sentence (. ! ? … or the end of the input). */
  endsSentence: boolean;
}

const SENTENCE_END = /[.!?…]/;

export function splitClauses(text: string): Clause[] {
  const clauses: Clause[] = [];
  let rest = text.replace(/\s+/g, ' ').trim();
  let guard = 0;
  while (rest.length > 0 && guard++ < 100_000) {
    // The shortest run up to punctuation (plus closing quotes/brackets) followed by whitespace or the end.
    const match = /^(.*?)\s*([.!?…]+|[,;:—–])["')\]]*(?:\s+|$)/s.exec(rest);
    if (!match || match[0].length === 0) {
      push(clauses, rest, '', true);
      break;
    }
    push(clauses, match[1], match[2], SENTENCE_END.test(match[2]));
    rest = rest.slice(match[0].length);
  }
  return clauses;
}

function push(clauses: Clause[], raw: string, punctuation: string, endsSentence: boolean): void {
  const text = raw
    .replace(/["()[\]{}]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const mark =
    punctuation.startsWith('…') || punctuation.startsWith('...') ? '…' : punctuation.slice(-1).replace('–', '—');
  if (text.length === 0) {
    // Lone punctuation closes the previous clause instead.
    const last = clauses[clauses.length - 1];
    if (last && endsSentence) last.endsSentence = true;
    return;
  }
  clauses.push({ text, punctuation: mark, endsSentence });
}
