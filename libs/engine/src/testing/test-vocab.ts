// Realistic tokenizer vocabularies for tiny test models, trained deterministically on a small embedded
// multilingual corpus: byte-level BPE (GGUF "gpt2", Llama 3 style), SentencePiece (GGUF "llama", Llama 2 style)
// and WordPiece (GGUF "bert", as llama.cpp converts BERT vocabularies).

/** GGUF tokenizer.ggml.token_type values. */
export const TokenType = {
  UNDEFINED: 0,
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;
export type TokenTypeValue = (typeof TokenType)[keyof typeof TokenType];

/** Everything the GGUF tokenizer.* keys need; see {@link tokenizerGgufKeys}. */
export interface TestVocab {
  /** tokenizer.ggml.model */
  model: 'gpt2' | 'llama' | 'bert';
  /** tokenizer.ggml.pre */
  pre: string;
  tokens: string[];
  scores: number[];
  tokenTypes: TokenTypeValue[];
  /** "left right" pairs by rank; empty for SentencePiece. */
  merges: string[];
  bosId: number;
  eosId: number;
  /** null when the vocabulary has no unknown token (byte-level BPE never needs one). */
  unkId: number | null;
  eotId: number | null;
  addBos: boolean;
  addEos: boolean;
  addSpacePrefix: boolean;
  chatTemplate: string;
  /** Text of every CONTROL token -> id. */
  specialTokens: Record<string, number>;
}

export interface VocabOptions {
  /** Upper bound on the vocabulary size; training also stops once every word is a single token. */
  vocabSize?: number;
  /** Training text; defaults to {@link TRAINING_CORPUS}. */
  corpus?: string;
}

/** A few paragraphs in several languages and scripts, plus emoji and code, so merges look like real ones. */
export const TRAINING_CORPUS = [
  'The quick brown fox jumps over the lazy dog. The dog was not amused, but the fox did not care at all.',
  "It's a truth universally acknowledged that a model in possession of good weights must be in want of a tokenizer.",
  "We'll measure the throughput of the engine: tokens per second, memory bandwidth, and the time to first token.",
  'Sovereign AI means your data stays on your own machines, under your own control, with no outside service involved.',
  'Le café était très chaud, et la crème brûlée était délicieuse. Où est la bibliothèque ? À côté de la gare.',
  "Les élèves préfèrent étudier à la maison plutôt qu'à l'école, mais le professeur n'est pas d'accord.",
  'Die Straße war nass, und die Bäume schüttelten ihre Blätter. Über den Hügeln zogen dunkle Wolken auf.',
  'Größere Modelle brauchen mehr Speicher; kleinere Modelle laufen schneller auf gewöhnlichen Rechnern.',
  '日本語のテキストも少し含めます。東京は日本の首都です。今日はとても良い天気ですね。',
  '人工智能正在改变世界。我们的模型在本地运行，数据不会离开你的服务器。今天天气很好。',
  'Emoji appear in chats too: 👋🏽 hello, 🎉 party, 🚀 launch, ❤️ love, 😀 smile, 👍 thumbs up.',
  'function add(a, b) {\n  return a + b;\n}\n\nconst total = add(40, 2); // 42\nconsole.log(`total = ${total}`);',
  'def greet(name):\n    return f"Hello, {name}!"\n\nfor i in range(3):\n    print(greet("world"), i)',
  'Numbers matter: 3.14159, 2718, 1,000,000 and 2024-06-30 are all common in prompts.',
  'The engine loads the model, reads the vocabulary, and answers the question. The answer is in the model.',
].join('\n');

const LLAMA3_CHAT_TEMPLATE =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + " +
  "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}" +
  '{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}' +
  "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

const LLAMA2_CHAT_TEMPLATE =
  "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = " +
  "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}" +
  '{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}{% set content = ' +
  "'<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = " +
  "message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + " +
  "' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}" +
  '{% endfor %}';

const BPE_SPECIAL_TOKENS = [
  '<|begin_of_text|>',
  '<|end_of_text|>',
  '<|start_header_id|>',
  '<|end_header_id|>',
  '<|eot_id|>',
] as const;

/**
 * GPT-2's bytes_to_unicode: byte b -> the character standing for it in byte-level BPE token texts. Printable
 * Latin-1 bytes stand for themselves; the others map to U+0100 upwards, in byte order.
 */
export function byteLevelChars(): string[] {
  const isPrintable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const chars: string[] = [];
  let extra = 256;
  for (let b = 0; b < 256; b++) chars.push(String.fromCodePoint(isPrintable(b) ? b : extra++));
  return chars;
}

// The Llama 3 pre-tokenizer regex; JavaScript has no inline (?i:...), so the contractions spell out both cases.
const LLAMA3_PRE_TOKENIZER =
  /'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

type Word = { symbols: string[]; count: number };

const codePoint = (ch: string): number => ch.codePointAt(0) ?? 0;

function countWords(pieces: Iterable<string>, toSymbols: (piece: string) => string[]): Word[] {
  const counts = new Map<string, number>();
  for (const piece of pieces) counts.set(piece, (counts.get(piece) ?? 0) + 1);
  return [...counts].map(([piece, count]) => ({ symbols: toSymbols(piece), count }));
}

/**
 * Classic BPE training: repeatedly merge the most frequent adjacent pair (ties: the lexicographically smallest
 * "left right"), until `maxMerges` or no pair is left. Pairs seen once still merge late in training: the corpus
 * is small, and real vocabularies also hold whole rare words. Symbols equal to `barrier` never merge.
 */
function trainMerges(
  words: Word[],
  maxMerges: number,
  barrier?: string,
): { left: string; right: string; count: number }[] {
  const merges: { left: string; right: string; count: number }[] = [];
  while (merges.length < maxMerges) {
    const pairCounts = new Map<string, number>();
    for (const word of words) {
      for (let i = 0; i + 1 < word.symbols.length; i++) {
        if (word.symbols[i] === barrier || word.symbols[i + 1] === barrier) continue;
        const key = word.symbols[i] + ' ' + word.symbols[i + 1];
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + word.count);
      }
    }
    let bestKey = '';
    let bestCount = 0;
    for (const [key, count] of pairCounts) {
      if (count > bestCount || (count === bestCount && key < bestKey)) {
        bestKey = key;
        bestCount = count;
      }
    }
    if (bestCount === 0) break;
    // Symbols never contain a space (byte-level maps it to "Ġ", SentencePiece to "▁"), so the split is exact.
    const [left, right] = bestKey.split(' ') as [string, string];
    merges.push({ left, right, count: bestCount });
    const merged = left + right;
    for (const word of words) {
      const next: string[] = [];
      for (let i = 0; i < word.symbols.length; i++) {
        if (i + 1 < word.symbols.length && word.symbols[i] === left && word.symbols[i + 1] === right) {
          next.push(merged);
          i++;
        } else {
          next.push(word.symbols[i] as string);
        }
      }
      word.symbols = next;
    }
  }
  return merges;
}

// Training takes ~0.5 s; tests build the same vocabularies many times, so each result is kept and copied out.
const builtVocabs = new Map<string, TestVocab>();
function cached(kind: string, options: VocabOptions, build: () => TestVocab): TestVocab {
  const key = JSON.stringify([kind, options.vocabSize ?? null, options.corpus ?? null]);
  let vocab = builtVocabs.get(key);
  if (vocab === undefined) {
    vocab = build();
    builtVocabs.set(key, vocab);
  }
  return structuredClone(vocab);
}

/** Byte-level BPE vocabulary in the Llama 3 layout: 256 byte tokens, merged tokens, then control tokens. */
export function buildBpeVocab(options: VocabOptions = {}): TestVocab {
  return cached('bpe', options, () => trainBpeVocab(options));
}

function trainBpeVocab(options: VocabOptions): TestVocab {
  const vocabSize = options.vocabSize ?? 1024;
  const corpus = options.corpus ?? TRAINING_CORPUS;
  const minSize = 256 + BPE_SPECIAL_TOKENS.length;
  if (!Number.isInteger(vocabSize) || vocabSize < minSize) {
    throw new Error(
      `buildBpeVocab: vocabSize must be an integer >= ${minSize} (256 bytes + specials), got ${vocabSize}`,
    );
  }
  const chars = byteLevelChars();
  const encoder = new TextEncoder();
  const toSymbols = (piece: string) => [...encoder.encode(piece)].map((b) => chars[b] as string);
  const words = countWords(
    Array.from(corpus.matchAll(LLAMA3_PRE_TOKENIZER), (m) => m[0]),
    toSymbols,
  );

  // Byte stand-ins sorted by code point list the printable bytes first, then the rest, as bytes_to_unicode does.
  const tokens = [...chars].sort((a, b) => codePoint(a) - codePoint(b));
  const known = new Set(tokens);
  const merges: string[] = [];
  for (const { left, right } of trainMerges(words, vocabSize - minSize)) {
    merges.push(`${left} ${right}`);
    // Two different pairs can spell the same token; it is listed once.
    if (!known.has(left + right)) {
      known.add(left + right);
      tokens.push(left + right);
    }
    if (tokens.length + BPE_SPECIAL_TOKENS.length >= vocabSize) break;
  }
  const tokenTypes: TokenTypeValue[] = tokens.map(() => TokenType.NORMAL);
  const specialTokens: Record<string, number> = {};
  for (const special of BPE_SPECIAL_TOKENS) {
    specialTokens[special] = tokens.length;
    tokens.push(special);
    tokenTypes.push(TokenType.CONTROL);
  }
  return {
    model: 'gpt2',
    pre: 'llama-bpe',
    tokens,
    scores: tokens.map(() => 0),
    tokenTypes,
    merges,
    bosId: tokens.indexOf('<|begin_of_text|>'),
    eosId: tokens.indexOf('<|end_of_text|>'),
    unkId: null,
    eotId: tokens.indexOf('<|eot_id|>'),
    addBos: true,
    addEos: false,
    addSpacePrefix: false,
    chatTemplate: LLAMA3_CHAT_TEMPLATE,
    specialTokens,
  };
}

const SPM_SPACE = '\u2581'; // "▁"

/**
 * SentencePiece vocabulary in the Llama 2 layout: <unk>, <s>, </s>, 256 <0xNN> byte tokens, merged pieces (BPE over
 * "▁"-prefixed words, scored by the log frequency of their merge), then single characters that occur at least
 * twice. Rarer characters (e.g. most emoji) are left to byte fallback, as in real vocabularies.
 */
export function buildSentencePieceVocab(options: VocabOptions = {}): TestVocab {
  return cached('spm', options, () => trainSentencePieceVocab(options));
}

function trainSentencePieceVocab(options: VocabOptions): TestVocab {
  const vocabSize = options.vocabSize ?? 1024;
  const corpus = options.corpus ?? TRAINING_CORPUS;
  const minSize = 3 + 256 + 1;
  if (!Number.isInteger(vocabSize) || vocabSize < minSize) {
    throw new Error(`buildSentencePieceVocab: vocabSize must be an integer >= ${minSize}, got ${vocabSize}`);
  }
  const tokens = ['<unk>', '<s>', '</s>'];
  const tokenTypes: TokenTypeValue[] = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL];
  const scores = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    tokenTypes.push(TokenType.BYTE);
    scores.push(0);
  }

  // Words as SentencePiece sees them: whitespace-separated, each starting with "▁".
  const pieces = corpus
    .split(/\s+/u)
    .filter((w) => w.length > 0)
    .map((w) => SPM_SPACE + w);
  const charCounts = new Map<string, number>();
  for (const piece of pieces) for (const ch of piece) charCounts.set(ch, (charCounts.get(ch) ?? 0) + 1);
  // Characters by frequency (ties by code point) that make it into the vocabulary.
  const alphabet = [...charCounts]
    .filter(([ch, count]) => count >= 2 || ch === SPM_SPACE)
    .sort((a, b) => b[1] - a[1] || codePoint(a[0]) - codePoint(b[0]))
    .map(([ch]) => ch)
    .slice(0, vocabSize - tokens.length);
  const inAlphabet = new Set(alphabet);
  const barrier = '\u0000'; // stands for characters outside the alphabet: they never merge
  const words = countWords(pieces, (piece) => [...piece].map((ch) => (inAlphabet.has(ch) ? ch : barrier)));

  const budget = vocabSize - tokens.length - alphabet.length;
  const totalPairs = words.reduce((sum, w) => sum + w.count * Math.max(0, w.symbols.length - 1), 0);
  const known = new Set(tokens);
  const mergedPieces: { text: string; score: number }[] = [];
  for (const { left, right, count } of trainMerges(words, Math.max(0, budget), barrier)) {
    if (known.has(left + right)) continue;
    known.add(left + right);
    // Log frequency, nudged down by merge order so that equal counts still rank the way training did.
    mergedPieces.push({ text: left + right, score: Math.log(count / totalPairs) - mergedPieces.length * 1e-4 });
  }
  for (const piece of mergedPieces) {
    tokens.push(piece.text);
    tokenTypes.push(TokenType.NORMAL);
    scores.push(Math.fround(piece.score));
  }
  // Single characters come last and score below every merge: they are never merge targets.
  const lowest = mergedPieces.at(-1)?.score ?? 0;
  alphabet.forEach((ch, i) => {
    if (known.has(ch)) return;
    known.add(ch);
    tokens.push(ch);
    tokenTypes.push(TokenType.NORMAL);
    scores.push(Math.fround(lowest - 1 - i * 1e-3));
  });
  return {
    model: 'llama',
    pre: 'default',
    tokens,
    scores,
    tokenTypes,
    merges: [],
    bosId: 1,
    eosId: 2,
    unkId: 0,
    eotId: null,
    addBos: true,
    addEos: false,
    addSpacePrefix: true,
    chatTemplate: LLAMA2_CHAT_TEMPLATE,
    specialTokens: { '<unk>': 0, '<s>': 1, '</s>': 2 },
  };
}

/**
 * The GGUF tokenizer keys for a vocabulary, with the value each holds: tokens/merges are string arrays, scores
 * float32, token_type int32, ids uint32, add_* booleans. Keys with no value (no unk/eot, no merges) are left out.
 */
export function tokenizerGgufKeys(vocab: TestVocab): Record<string, string | number | boolean | string[] | number[]> {
  const keys: Record<string, string | number | boolean | string[] | number[]> = {
    'tokenizer.ggml.model': vocab.model,
    'tokenizer.ggml.pre': vocab.pre,
    'tokenizer.ggml.tokens': vocab.tokens,
    'tokenizer.ggml.scores': vocab.scores,
    'tokenizer.ggml.token_type': vocab.tokenTypes,
    'tokenizer.ggml.bos_token_id': vocab.bosId,
    'tokenizer.ggml.eos_token_id': vocab.eosId,
    'tokenizer.ggml.add_bos_token': vocab.addBos,
    'tokenizer.ggml.add_eos_token': vocab.addEos,
    'tokenizer.ggml.add_space_prefix': vocab.addSpacePrefix,
    'tokenizer.chat_template': vocab.chatTemplate,
  };
  if (vocab.merges.length > 0) keys['tokenizer.ggml.merges'] = vocab.merges;
  if (vocab.unkId !== null) keys['tokenizer.ggml.unknown_token_id'] = vocab.unkId;
  if (vocab.eotId !== null) keys['tokenizer.ggml.eot_token_id'] = vocab.eotId;
  return keys;
}

/** Text of llama.cpp's phantom space, which starts every word-initial WordPiece token. */
export const WORDPIECE_PHANTOM_SPACE = '\u2581';

/**
 * WordPiece vocabulary in llama.cpp's "bert" layout: [PAD] [UNK] [CLS] [SEP] [MASK], then word-initial pieces
 * ("▁" + text) and continuation pieces (no "##"): every lower-case letter and digit both ways, ASCII punctuation,
 * a few suffixes, and the corpus's most frequent lower-case ASCII words, up to vocabSize.
 */
export function buildWordPieceVocab(options: VocabOptions = {}): TestVocab {
  const vocabSize = options.vocabSize ?? 512;
  const tokens = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  const tokenTypes: TokenTypeValue[] = [
    TokenType.CONTROL,
    TokenType.UNKNOWN,
    TokenType.CONTROL,
    TokenType.CONTROL,
    TokenType.CONTROL,
  ];
  const add = (text: string): void => {
    if (tokens.length < vocabSize && !tokens.includes(text)) {
      tokens.push(text);
      tokenTypes.push(TokenType.NORMAL);
    }
  };
  for (const ch of 'abcdefghijklmnopqrstuvwxyz0123456789') {
    add(WORDPIECE_PHANTOM_SPACE + ch);
    add(ch);
  }
  for (const ch of '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~') add(WORDPIECE_PHANTOM_SPACE + ch);
  for (const suffix of ['s', 'ed', 'er', 'ing', 'ly', 'est']) add(suffix);
  const counts = new Map<string, number>();
  for (const word of (options.corpus ?? TRAINING_CORPUS).toLowerCase().match(/[a-z]+/g) ?? []) {
    if (word.length > 1) counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  const byFrequency = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([word]) => word);
  for (const word of byFrequency) add(WORDPIECE_PHANTOM_SPACE + word);
  return {
    model: 'bert',
    pre: 'default',
    tokens,
    scores: tokens.map(() => 0),
    tokenTypes,
    merges: [],
    bosId: 2,
    eosId: 3,
    unkId: 1,
    eotId: null,
    addBos: true,
    addEos: true,
    addSpacePrefix: false,
    chatTemplate: '',
    specialTokens: { '[PAD]': 0, '[CLS]': 2, '[SEP]': 3, '[MASK]': 4 },
  };
}
