// English text normalisation for speech: money, phone numbers, dates, times, ordinals, percentages, numbers and
// common abbreviations become the words a person would say. Rules run in order, most specific first.
import { cardinalWords, decimalWords, digitWords, ordinalWords, yearWords } from './english-numbers';
import type { TextNormaliser } from './text-normaliser';

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const MONTH_ABBREVIATIONS: Record<string, string> = {
  jan: 'January',
  feb: 'February',
  mar: 'March',
  apr: 'April',
  jun: 'June',
  jul: 'July',
  aug: 'August',
  sep: 'September',
  sept: 'September',
  oct: 'October',
  nov: 'November',
  dec: 'December',
};
const MONTH_PATTERN = `(${[...MONTHS, ...Object.keys(MONTH_ABBREVIATIONS).map((m) => m[0].toUpperCase() + m.slice(1))].join('|')})\\.?`;

const CURRENCIES: Record<string, [string, string, string, string]> = {
  $: ['dollar', 'dollars', 'cent', 'cents'],
  '€': ['euro', 'euros', 'cent', 'cents'],
  '£': ['pound', 'pounds', 'penny', 'pence'],
};

/** Abbreviations always expanded (the trailing dot is part of the match). */
const ABBREVIATIONS: Array<[RegExp, string]> = [
  [/\bDr\.(?=\s+[A-Z])/g, 'Doctor'],
  [/\bMr\./g, 'Mister'],
  [/\bMrs\./g, 'Missus'],
  [/\bMs\./g, 'Miz'],
  [/\bProf\.(?=\s+[A-Z])/g, 'Professor'],
  [/\bSt\.(?=\s+[A-Z])/g, 'Saint'],
  [/\bJr\./g, 'Junior'],
  [/\bSr\./g, 'Senior'],
  [/\bvs\.?(?=\s)/g, 'versus'],
  [/\betc\./g, 'et cetera'],
  [/\be\.g\./gi, 'for example'],
  [/\bi\.e\./gi, 'that is'],
  [/\bapprox\./gi, 'approximately'],
  [/\bNo\.(?=\s*\d)/g, 'number'],
  [/\bAve\./g, 'Avenue'],
  [/\bBlvd\./g, 'Boulevard'],
  [/\bMt\./g, 'Mount'],
  [/\bInc\./g, 'Incorporated'],
  [/\bLtd\./g, 'Limited'],
  [/\bDept\./g, 'Department'],
  [/\bDr\./g, 'Drive'],
  [/\bSt\./g, 'Street'],
];

const SCALE_WORDS: Record<string, string> = { k: 'thousand', m: 'million', b: 'billion' };

function money(symbol: string, amount: string, scale: string | undefined): string {
  const [unit, units, subunit, subunits] = CURRENCIES[symbol];
  const clean = amount.replace(/,/g, '');
  if (scale) return `${decimalWords(clean)} ${SCALE_WORDS[scale.toLowerCase()] ?? scale.toLowerCase()} ${units}`;
  const [wholeText, fractionText = ''] = clean.split('.');
  const whole = BigInt(wholeText === '' ? '0' : wholeText);
  const cents = fractionText === '' ? 0 : Math.round(Number(`0.${fractionText}`) * 100);
  const parts: string[] = [];
  if (whole > 0n || cents === 0) parts.push(`${cardinalWords(whole)} ${whole === 1n ? unit : units}`);
  if (cents > 0) parts.push(`${cardinalWords(cents)} ${cents === 1 ? subunit : subunits}`);
  return parts.join(' and ');
}

function time(hours: string, minutes: string, meridiem: string | undefined, after = ''): string {
  const h = Number(hours);
  const m = Number(minutes);
  let words: string;
  if (m === 0) words = meridiem ? cardinalWords(h) : `${cardinalWords(h)} o'clock`;
  else if (m < 10) words = `${cardinalWords(h)} oh ${cardinalWords(m)}`;
  else words = `${cardinalWords(h)} ${cardinalWords(m)}`;
  if (!meridiem) return words;
  // "p.m." at the end of a sentence also ends the sentence: keep one dot for the clause splitter.
  const sentenceEnd = meridiem.endsWith('.') && /^(\s+[A-Z]|\s*$)/.test(after) ? '.' : '';
  return `${words} ${meridiem.replace(/\./g, '').toLowerCase().split('').join(' ')}${sentenceEnd}`;
}

function date(month: number, day: number, year: string | undefined): string | undefined {
  if (month < 1 || month > 12 || day < 1 || day > 31) return undefined;
  const words = `${MONTHS[month - 1]} ${ordinalWords(day)}`;
  return year ? `${words}, ${yearWords(Number(year.length === 2 ? `20${year}` : year))}` : words;
}

function monthName(text: string): string {
  const key = text.replace(/\.$/, '').toLowerCase();
  return MONTH_ABBREVIATIONS[key] ?? MONTHS.find((m) => m.toLowerCase() === key) ?? text;
}

/** A phone number read digit by digit, a pause (comma) between its groups. */
function phone(text: string): string {
  const plus = text.trim().startsWith('+') ? 'plus ' : '';
  const groups = text
    .split(/[^0-9]+/)
    .filter((g) => g.length > 0)
    .map(digitWords);
  return plus + groups.join(', ');
}

export const englishNormaliser: TextNormaliser = {
  language: 'en',
  normalise(input: string): string {
    let text = input
      .normalize('NFKC')
      .replace(/[\u2018\u2019]/g, "'")
      .replace(/[\u201c\u201d]/g, '"');
    for (const [pattern, words] of ABBREVIATIONS) text = text.replace(pattern, words);

    // Phone numbers: "+1 415 555 0100", "(415) 555-0100", "415-555-0100", "555-0100".
    text = text.replace(
      /(?<![\w.])(\+?\d{1,3}[ .-])?(\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w])|(?<![\w.$])\d{3}-\d{4}(?!\w)/g,
      (m) => phone(m),
    );
    // Money: "$3.50", "$1,200", "€5", "$2.5M".
    text = text.replace(
      /([$€£])\s?(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?:\s?([MBK]|million|billion|thousand)\b)?/g,
      (_m, s, a, scale) => money(s, a, scale),
    );
    // ISO dates "2024-05-02", US dates "05/02/2024" and "5/2".
    text = text.replace(/\b(\d{4})-(\d{2})-(\d{2})\b/g, (m, y, mo, d) => date(Number(mo), Number(d), y) ?? m);
    text = text.replace(
      /\b(\d{1,2})\/(\d{1,2})(?:\/(\d{4}|\d{2}))?\b/g,
      (m, mo, d, y) => date(Number(mo), Number(d), y) ?? m,
    );
    // "May 2, 2024", "May 2nd", "Jan. 3".
    text = text.replace(
      new RegExp(`\\b${MONTH_PATTERN}\\s+(\\d{1,2})(?:st|nd|rd|th)?(?:,?\\s+(\\d{4}))?\\b`, 'g'),
      (m, mo, d, y) => date(MONTHS.indexOf(monthName(mo)) + 1, Number(d), y) ?? m,
    );
    // Times: "10:30", "9:05 pm", "3pm".
    text = text.replace(
      /\b(\d{1,2}):(\d{2})(?:\s?([AaPp]\.?[Mm]\.?)(?=\W|$))?/g,
      (m, h, mi, mer, at: number, all: string) =>
        Number(h) < 24 && Number(mi) < 60 ? time(h, mi, mer, all.slice(at + m.length)) : m,
    );
    text = text.replace(/\b(\d{1,2})\s?([AaPp]\.?[Mm]\.?)(?=\W|$)/g, (m, h, mer, at: number, all: string) =>
      Number(h) <= 12 ? time(h, '00', mer, all.slice(at + m.length)) : m,
    );
    // Ordinals "2nd", "21st", "103rd".
    text = text.replace(/\b(\d{1,3}(?:,\d{3})+|\d+)(st|nd|rd|th)\b/gi, (_m, n) => ordinalWords(n.replace(/,/g, '')));
    // Years after words that announce one: "in 1990", "since 2005".
    text = text.replace(
      /\b(in|since|by|until|from|year|of)\s+(1[1-9]\d\d|20\d\d)\b(?!,\d)/gi,
      (_m, w, y) => `${w} ${yearWords(Number(y))}`,
    );
    // Percentages, then decimals, then integers (with thousands separators and a leading minus).
    text = text.replace(/(-?\d[\d,]*(?:\.\d+)?)\s?%/g, (_m, n) => `${decimalWords(n)} percent`);
    text = text.replace(/(?<![\w.])-?\d[\d,]*\.\d+\b/g, (m) => decimalWords(m));
    text = text.replace(/(?<![\w-])-(?=\d)/g, 'minus ');
    text = text.replace(/\b\d{1,3}(?:,\d{3})+\b|\b\d+\b/g, (m) => cardinalWords(m.replace(/,/g, '')));
    // Symbols a voice says.
    text = text
      .replace(/\s&\s/g, ' and ')
      .replace(/\s\+\s/g, ' plus ')
      .replace(/\s=\s/g, ' equals ')
      .replace(/@/g, ' at ');
    return text.replace(/\s+/g, ' ').trim();
  },
};
