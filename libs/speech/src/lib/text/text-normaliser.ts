// The per-language normaliser interface: text in, the words to speak out. English is the first implementation.
import { englishNormaliser } from './english-normaliser';

export interface TextNormaliser {
  /** ISO 639-1 language code this normaliser handles. */
  readonly language: string;
  normalise(text: string): string;
}

const NORMALISERS: Record<string, TextNormaliser> = { en: englishNormaliser };

/** The normaliser for a language or espeak voice ("en", "en-us", "en-gb"); undefined when there is none yet. */
export function normaliserFor(language: string): TextNormaliser | undefined {
  return NORMALISERS[language.toLowerCase().split(/[-_]/)[0]];
}
