// English number words: cardinals, ordinals, years, digit-by-digit reading and decimals.

const ONES = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];
const SCALES: Array<[bigint, string]> = [
  [10n ** 12n, 'trillion'],
  [10n ** 9n, 'billion'],
  [10n ** 6n, 'million'],
  [1000n, 'thousand'],
];
const IRREGULAR_ORDINALS: Record<string, string> = {
  one: 'first',
  two: 'second',
  three: 'third',
  five: 'fifth',
  eight: 'eighth',
  nine: 'ninth',
  twelve: 'twelfth',
};

function underThousand(n: number): string {
  const parts: string[] = [];
  if (n >= 100) {
    parts.push(`${ONES[Math.floor(n / 100)]} hundred`);
    n %= 100;
  }
  if (n >= 20) parts.push(n % 10 === 0 ? TENS[n / 10] : `${TENS[Math.floor(n / 10)]}-${ONES[n % 10]}`);
  else if (n > 0) parts.push(ONES[n]);
  return parts.join(' ');
}

/** "1234" → "one thousand two hundred thirty-four". Integers of any size up to the trillions (digits beyond read one by one). */
export function cardinalWords(value: number | bigint | string): string {
  let n = BigInt(value);
  if (n < 0n) return `minus ${cardinalWords(-n)}`;
  if (n >= 10n ** 15n) return digitWords(n.toString());
  if (n < 1000n) return n === 0n ? 'zero' : underThousand(Number(n));
  const parts: string[] = [];
  for (const [scale, name] of SCALES) {
    if (n >= scale) {
      parts.push(`${cardinalWords(n / scale)} ${name}`);
      n %= scale;
    }
  }
  if (n > 0n) parts.push(underThousand(Number(n)));
  return parts.join(' ');
}

/** "21" → "twenty-first". */
export function ordinalWords(value: number | bigint | string): string {
  const words = cardinalWords(value);
  const match = /^(.*?)([a-z]+)$/.exec(words);
  if (!match) return words;
  const [, head, last] = match;
  let ordinal: string;
  if (IRREGULAR_ORDINALS[last]) ordinal = IRREGULAR_ORDINALS[last];
  else if (last.endsWith('y')) ordinal = `${last.slice(0, -1)}ieth`;
  else ordinal = `${last}th`;
  return head + ordinal;
}

/** Reads digits one by one: "0100" → "zero one zero zero". */
export function digitWords(digits: string): string {
  return [...digits]
    .filter((d) => d >= '0' && d <= '9')
    .map((d) => ONES[Number(d)])
    .join(' ');
}

/** Reads a year the spoken way: 1990 → "nineteen ninety", 2005 → "two thousand five", 2024 → "twenty twenty-four". */
export function yearWords(year: number): string {
  if (!Number.isInteger(year) || year < 1000 || year > 9999) return cardinalWords(year);
  const high = Math.floor(year / 100);
  const low = year % 100;
  if (year % 1000 < 10 && year % 1000 !== 0 && Math.floor(year / 1000) === 2) return cardinalWords(year);
  if (low === 0) return year % 1000 === 0 ? cardinalWords(year) : `${cardinalWords(high)} hundred`;
  return `${cardinalWords(high)} ${low < 10 ? `oh ${ONES[low]}` : underThousand(low)}`;
}

/** "3.14" → "three point one four"; integer part as a cardinal, decimals digit by digit. */
export function decimalWords(text: string): string {
  const negative = text.startsWith('-');
  const [whole, fraction] = text.replace(/^-/, '').replace(/,/g, '').split('.');
  const words = `${cardinalWords(whole === '' ? '0' : whole)}${fraction ? ` point ${digitWords(fraction)}` : ''}`;
  return negative ? `minus ${words}` : words;
}
