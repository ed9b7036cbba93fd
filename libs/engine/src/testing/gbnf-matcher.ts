// A reference GBNF matcher over strings (for tests only): parses llama.cpp grammar text (rules `name ::= …`,
// literals, character classes, `.`, groups, `*`, `+`, `?`, `{m}`, `{m,}`, `{m,n}`, comments) and answers whether a
// string is a sentence of the grammar or a prefix of one, the way the native token matcher walks its stacks one
// code point at a time. It also draws random sentences, so tests can show that every output a grammar allows
// parses and validates. Deliberately simple and slow; left-recursive grammars are refused.

type CharElem = { kind: 'char'; ranges: Array<[number, number]>; negated: boolean };
type RuleElem = { kind: 'rule'; name: string };
type Elem = CharElem | RuleElem;

interface Alt {
  id: number;
  elems: Elem[];
}

/** A parse position: the alternative being matched and how far; `next` is the frame to return to. */
interface Stack {
  alt: Alt;
  at: number;
  next: Stack | null;
  key: string;
}

export class GbnfParseError extends Error {
  constructor(message: string, line: number, column: number) {
    super(`${message} at line ${line}, column ${column}`);
    this.name = 'GbnfParseError';
  }
}

const MAX_EXPANSION_DEPTH = 2000;

export class GbnfMatcher {
  private readonly rules = new Map<string, Alt[]>();
  private altIds = 0;
  private generated = 0;

  constructor(grammar: string, rootRule = 'root') {
    new Parser(grammar, this).parse();
    for (const [name, alts] of this.rules) {
      for (const alt of alts) {
        for (const elem of alt.elems) {
          if (elem.kind === 'rule' && !this.rules.has(elem.name)) {
            throw new Error(`rule ${name} refers to the undefined rule ${elem.name}`);
          }
        }
      }
    }
    if (!this.rules.has(rootRule)) throw new Error(`the grammar has no rule ${rootRule}`);
    this.root = rootRule;
  }

  private readonly root: string;

  /** The whole string is a sentence of the grammar. */
  accepts(text: string): boolean {
    const stacks = this.advanceAll(text);
    return stacks !== undefined && stacks.some((s) => s === null);
  }

  /** The string can still be continued into a sentence (or is one). */
  acceptsPrefix(text: string): boolean {
    return this.advanceAll(text) !== undefined;
  }

  /**
   * A random sentence: at each code point one of the allowed characters, ending (when allowed) with probability
   * `endBias`; undefined when no sentence was finished within `maxLength` code points.
   */
  sample(random: () => number, maxLength = 400, endBias = 0.3): string | undefined {
    let stacks = this.start();
    let text = '';
    for (let n = 0; n <= maxLength; n++) {
      const canEnd = stacks.some((s) => s === null);
      const live = stacks.filter((s): s is Stack => s !== null);
      if (canEnd && (live.length === 0 || random() < endBias)) return text;
      if (live.length === 0) return undefined;
      const stack = live[Math.floor(random() * live.length)];
      const elem = stack.alt.elems[stack.at] as CharElem;
      const cp = pickChar(elem, random);
      if (cp === undefined) return undefined;
      const ch = String.fromCodePoint(cp);
      text += ch;
      stacks = this.step(stacks, cp);
      if (stacks.length === 0) return undefined;
    }
    return undefined;
  }

  // --- building (used by the parser) ---

  addRule(name: string, alts: Elem[][]): void {
    this.rules.set(
      name,
      alts.map((elems) => ({ id: this.altIds++, elems })),
    );
  }

  freshName(base: string): string {
    return `${base}~${this.generated++}`;
  }

  // --- matching ---

  private advanceAll(text: string): Array<Stack | null> | undefined {
    let stacks = this.start();
    for (const ch of text) {
      stacks = this.step(stacks, ch.codePointAt(0) ?? 0);
      if (stacks.length === 0) return undefined;
    }
    return stacks;
  }

  private start(): Array<Stack | null> {
    const out = new Map<string, Stack | null>();
    for (const alt of this.rules.get(this.root) ?? []) this.expand(push(alt, 0, null), out, 0);
    return [...out.values()];
  }

  private step(stacks: Array<Stack | null>, cp: number): Array<Stack | null> {
    const out = new Map<string, Stack | null>();
    for (const stack of stacks) {
      if (stack === null) continue;
      const elem = stack.alt.elems[stack.at] as CharElem;
      if (!charMatches(elem, cp)) continue;
      this.expand(push(stack.alt, stack.at + 1, stack.next), out, 0);
    }
    return [...out.values()];
  }

  /** Expands rule references until every stack's top is a character (or the stack is empty: a complete match). */
  private expand(stack: Stack | null, out: Map<string, Stack | null>, depth: number): void {
    if (depth > MAX_EXPANSION_DEPTH) throw new Error('grammar expansion too deep (left recursion?)');
    // Pop finished frames.
    while (stack !== null && stack.at >= stack.alt.elems.length) stack = stack.next;
    const key = stack === null ? '' : stack.key;
    if (out.has(key)) return;
    if (stack === null) {
      out.set(key, null);
      return;
    }
    const elem = stack.alt.elems[stack.at];
    if (elem.kind === 'char') {
      out.set(key, stack);
      return;
    }
    const rest = push(stack.alt, stack.at + 1, stack.next);
    for (const alt of this.rules.get(elem.name) ?? []) this.expand(push(alt, 0, rest), out, depth + 1);
  }
}

function push(alt: Alt, at: number, next: Stack | null): Stack {
  return { alt, at, next, key: `${alt.id}:${at}|${next === null ? '' : next.key}` };
}

function charMatches(elem: CharElem, cp: number): boolean {
  const inside = elem.ranges.some(([lo, hi]) => cp >= lo && cp <= hi);
  return inside !== elem.negated;
}

const PALETTE = [...'abcdefxyzABZ0123456789 _-.,:;!?"\\/{}[]\n\té€漢😀'].map((c) => c.codePointAt(0) ?? 0);

function pickChar(elem: CharElem, random: () => number): number | undefined {
  if (!elem.negated) {
    const [lo, hi] = elem.ranges[Math.floor(random() * elem.ranges.length)];
    return lo + Math.floor(random() * (hi - lo + 1));
  }
  const allowed = PALETTE.filter((cp) => charMatches(elem, cp));
  return allowed.length === 0 ? undefined : allowed[Math.floor(random() * allowed.length)];
}

class Parser {
  private pos = 0;

  constructor(
    private readonly src: string,
    private readonly out: GbnfMatcher,
  ) {}

  parse(): void {
    this.skip(true);
    while (this.pos < this.src.length) {
      const name = this.name();
      this.skip(false);
      if (!this.src.startsWith('::=', this.pos)) this.fail('expected ::=');
      this.pos += 3;
      this.skip(true);
      this.out.addRule(name, this.alternatives(name, false));
      this.skip(true);
    }
  }

  private alternatives(name: string, nested: boolean): Elem[][] {
    const alts = [this.sequence(name, nested)];
    while (this.src[this.pos] === '|') {
      this.pos++;
      this.skip(true);
      alts.push(this.sequence(name, nested));
    }
    return alts;
  }

  private sequence(name: string, nested: boolean): Elem[] {
    const elems: Elem[] = [];
    let lastStart = -1;
    for (;;) {
      const c = this.src[this.pos];
      if (c === undefined) break;
      if (c === '"') {
        lastStart = elems.length;
        this.pos++;
        while (this.src[this.pos] !== '"') {
          if (this.pos >= this.src.length) this.fail('unterminated literal');
          const cp = this.char();
          elems.push({ kind: 'char', ranges: [[cp, cp]], negated: false });
        }
        this.pos++;
      } else if (c === '[') {
        lastStart = elems.length;
        this.pos++;
        const negated = this.src[this.pos] === '^';
        if (negated) this.pos++;
        const ranges: Array<[number, number]> = [];
        while (this.src[this.pos] !== ']') {
          if (this.pos >= this.src.length) this.fail('unterminated character class');
          const lo = this.char();
          let hi = lo;
          if (this.src[this.pos] === '-' && this.src[this.pos + 1] !== ']') {
            this.pos++;
            hi = this.char();
          }
          ranges.push([lo, hi]);
        }
        this.pos++;
        elems.push({ kind: 'char', ranges, negated });
      } else if (c === '.') {
        lastStart = elems.length;
        this.pos++;
        elems.push({ kind: 'char', ranges: [], negated: true });
      } else if (/[a-zA-Z0-9_-]/.test(c)) {
        lastStart = elems.length;
        elems.push({ kind: 'rule', name: this.name() });
      } else if (c === '(') {
        lastStart = elems.length;
        this.pos++;
        this.skip(true);
        const sub = this.out.freshName(name);
        this.out.addRule(sub, this.alternatives(sub, true));
        if (this.src[this.pos] !== ')') this.fail('expected )');
        this.pos++;
        elems.push({ kind: 'rule', name: sub });
      } else if (c === '*' || c === '+' || c === '?' || c === '{') {
        if (lastStart < 0) this.fail(`${c} without an element before it`);
        let min = 0;
        let max: number | undefined;
        this.pos++;
        if (c === '+') min = 1;
        else if (c === '?') max = 1;
        else if (c === '{') {
          const m = /^\s*(\d+)\s*(,\s*(\d*)\s*)?\}/.exec(this.src.slice(this.pos));
          if (!m) this.fail('malformed {m,n}');
          this.pos += m[0].length;
          min = Number(m[1]);
          max = m[2] === undefined ? min : m[3] === '' ? undefined : Number(m[3]);
        }
        const item = elems.splice(lastStart);
        elems.push(...this.repeat(name, item, min, max));
        lastStart = -1;
      } else break;
      this.skip(nested);
    }
    return elems;
  }

  /** `item` min..max times as elements, using helper rules for the optional and unbounded parts. */
  private repeat(name: string, item: Elem[], min: number, max: number | undefined): Elem[] {
    const out: Elem[] = [];
    for (let i = 0; i < min; i++) out.push(...item);
    if (max === undefined) {
      const star = this.out.freshName(name);
      this.out.addRule(star, [[...item, { kind: 'rule', name: star }], []]);
      out.push({ kind: 'rule', name: star });
      return out;
    }
    let tail: Elem[] = [];
    for (let i = max - min; i >= 1; i--) {
      const opt = this.out.freshName(name);
      this.out.addRule(opt, [[...item, ...tail], []]);
      tail = [{ kind: 'rule', name: opt }];
    }
    out.push(...tail);
    return out;
  }

  private name(): string {
    const m = /^[a-zA-Z0-9_-]+/.exec(this.src.slice(this.pos));
    if (!m) this.fail('expected a rule name');
    this.pos += m[0].length;
    return m[0];
  }

  /** One (possibly escaped) code point of a literal or class. */
  private char(): number {
    const c = this.src[this.pos];
    if (c !== '\\') {
      const cp = this.src.codePointAt(this.pos) ?? 0;
      this.pos += cp > 0xffff ? 2 : 1;
      return cp;
    }
    const e = this.src[this.pos + 1];
    this.pos += 2;
    const simple: Record<string, number> = {
      n: 10,
      r: 13,
      t: 9,
      '\\': 92,
      '"': 34,
      '[': 91,
      ']': 93,
      '-': 45,
      '/': 47,
    };
    if (e in simple) return simple[e];
    const width = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    if (width === 0) this.fail(`unknown escape \\${e}`);
    const hex = this.src.slice(this.pos, this.pos + width);
    if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== width) this.fail('malformed escape');
    this.pos += width;
    return parseInt(hex, 16);
  }

  private skip(newlines: boolean): void {
    for (;;) {
      const c = this.src[this.pos];
      if (c === ' ' || c === '\t' || (newlines && (c === '\n' || c === '\r'))) this.pos++;
      else if (c === '#') {
        while (this.pos < this.src.length && this.src[this.pos] !== '\n') this.pos++;
      } else return;
    }
  }

  private fail(message: string): never {
    const before = this.src.slice(0, this.pos);
    const line = before.split('\n').length;
    const column = this.pos - before.lastIndexOf('\n');
    throw new GbnfParseError(message, line, column);
  }
}
