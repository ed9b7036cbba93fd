import { SentenceStream } from '../sentence-stream';

/** Feeds `text` in pieces of `step` characters, as tokens arrive; returns every piece emitted, flush included. */
function stream(text: string, step: number, options = {}): string[] {
  const s = new SentenceStream(options);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += step) out.push(...s.push(text.slice(i, i + step)));
  return [...out, ...s.flush()];
}

describe('SentenceStream', () => {
  it('emits each sentence as soon as the whitespace after its end arrives', () => {
    const s = new SentenceStream();
    expect(s.push('Hello there')).toEqual([]);
    expect(s.push('.')).toEqual([]);
    expect(s.push(' How are you?')).toEqual(['Hello there.']);
    expect(s.push(' I')).toEqual(['How are you?']);
    expect(s.flush()).toEqual(['I']);
    expect(s.flush()).toEqual([]);
  });

  it('does not cut decimals or abbreviations without a following space', () => {
    expect(stream('It costs 3.50 dollars today. Thanks!', 3)).toEqual(['It costs 3.50 dollars today.', 'Thanks!']);
  });

  it('lets the first piece end at a clause mark once long enough, later ones only when long', () => {
    const text = 'Well, thank you for calling the clinic, we are open today, and the doctor can see you at noon. Bye.';
    expect(stream(text, 4)).toEqual([
      'Well, thank you for calling the clinic,',
      'we are open today, and the doctor can see you at noon.',
      'Bye.',
    ]);
  });

  it('cuts a long run without punctuation at a word boundary', () => {
    const words = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    const pieces = stream(words, 7, { maxChars: 50 });
    expect(pieces.every((p) => p.length <= 50)).toBe(true);
    expect(pieces.join(' ')).toBe(words);
  });

  it('is the same whatever the token boundaries', () => {
    const text = 'One. Two, three; four: five! Six… seven? "Eight." Nine';
    const reference = stream(text, text.length);
    for (const step of [1, 2, 3, 5, 8]) expect(stream(text, step)).toEqual(reference);
  });

  it('refuses a maxChars too small to hold a word', () => {
    expect(() => new SentenceStream({ maxChars: 3 })).toThrow(/maxChars/);
  });
});
