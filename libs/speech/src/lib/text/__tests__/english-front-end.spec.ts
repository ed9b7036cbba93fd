import { EspeakPhonemiser } from '../../phonemes/espeak.phonemiser';
import { splitClauses } from '../clause-splitter';
import { englishNormaliser } from '../english-normaliser';
import { cardinalWords, ordinalWords, yearWords } from '../english-numbers';
import { normaliserFor } from '../text-normaliser';

describe('English front end (words and espeak-ng phonemes)', () => {
  const phonemiser = new EspeakPhonemiser();

  it.each([
    ['$3.50', 'three dollars and fifty cents', 'θɹˈiː dˈɑːlɚz ænd fˈɪfti sˈɛnts'],
    ['Dr. Smith', 'Doctor Smith', 'dˈɑːktɚ smˈɪθ'],
    ['2nd', 'second', 'sˈɛkənd'],
    ['10:30', 'ten thirty', 'tˈɛn θˈɜːɾi'],
    [
      '+1 415 555 0100',
      'plus one, four one five, five five five, zero one zero zero',
      'plˈʌs wˌʌn | fˈoːɹ wˈʌn fˈaɪv | fˈaɪv fˈaɪv fˈaɪv | zˈiəɹoʊ wˈʌn zˈiəɹoʊ zˈiəɹoʊ',
    ],
  ])('%s is said as "%s"', async (input, words, phonemes) => {
    const normalised = englishNormaliser.normalise(input);
    expect(normalised).toBe(words);
    const clauses = splitClauses(normalised);
    const ipa = await phonemiser.phonemise(
      clauses.map((c) => c.text),
      'en-us',
    );
    expect(ipa.join(' | ')).toBe(phonemes);
  });

  it.each([
    ['It costs $1,200, $0.99 or $1.', 'It costs one thousand two hundred dollars, ninety-nine cents or one dollar.'],
    ['£2.01 and €5', 'two pounds and one penny and five euros'],
    ['Call (415) 555-0100 at 9:05 pm.', 'Call four one five, five five five, zero one zero zero at nine oh five p m.'],
    [
      'On 2024-05-02 and 12/25/1999',
      'On May second, twenty twenty-four and December twenty-fifth, nineteen ninety-nine',
    ],
    ['Jan. 3, 2005 at 3pm', 'January third, two thousand five at three p m'],
    ['Meet at 10:00 on Main St. in St. Louis', "Meet at ten o'clock on Main Street in Saint Louis"],
    ['50% of 3.14 is -7', 'fifty percent of three point one four is minus seven'],
    [
      'The 21st, 103rd and 1,234,567th',
      'The twenty-first, one hundred third and one million two hundred thirty-four thousand five hundred sixty-seventh',
    ],
    ['Mr. & Mrs. Jones live at No. 7, e.g. here', 'Mister and Missus Jones live at number seven, for example here'],
    [
      'since 1990, in 2024, 2024 people',
      'since nineteen ninety, in twenty twenty-four, two thousand twenty-four people',
    ],
    ['$2.5M raised', 'two point five million dollars raised'],
  ])('normalises %s', (input, words) => {
    expect(englishNormaliser.normalise(input)).toBe(words);
  });

  it('reads numbers, ordinals and years', () => {
    expect(cardinalWords(0)).toBe('zero');
    expect(cardinalWords(1_000_001)).toBe('one million one');
    expect(cardinalWords(-42)).toBe('minus forty-two');
    expect(ordinalWords(12)).toBe('twelfth');
    expect(ordinalWords(40)).toBe('fortieth');
    expect(yearWords(1905)).toBe('nineteen oh five');
    expect(yearWords(2000)).toBe('two thousand');
    expect(yearWords(1800)).toBe('eighteen hundred');
  });

  it('finds the normaliser by language or espeak voice', () => {
    expect(normaliserFor('en-us')?.language).toBe('en');
    expect(normaliserFor('EN_gb')?.language).toBe('en');
    expect(normaliserFor('de')).toBeUndefined();
  });
});

describe('splitClauses', () => {
  it('ends clauses at clause and sentence punctuation, keeping the mark', () => {
    expect(splitClauses('Hello there, how are you? I am fine; thanks! "Quoted" (aside) end...')).toEqual([
      { text: 'Hello there', punctuation: ',', endsSentence: false },
      { text: 'how are you', punctuation: '?', endsSentence: true },
      { text: 'I am fine', punctuation: ';', endsSentence: false },
      { text: 'thanks', punctuation: '!', endsSentence: true },
      { text: 'Quoted aside end', punctuation: '…', endsSentence: true },
    ]);
  });

  it('does not split inside words or numbers and closes an unpunctuated tail', () => {
    expect(splitClauses('a.b,c  tail')).toEqual([{ text: 'a.b,c tail', punctuation: '', endsSentence: true }]);
    expect(splitClauses('  ')).toEqual([]);
    expect(splitClauses('Wait... !')).toEqual([{ text: 'Wait', punctuation: '…', endsSentence: true }]);
  });
});
