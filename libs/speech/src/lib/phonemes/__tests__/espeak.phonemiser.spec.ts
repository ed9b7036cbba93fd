import { EspeakPhonemiser, PhonemiserError } from '../espeak.phonemiser';

describe('EspeakPhonemiser', () => {
  it('phonemises a batch in order, one IPA string per clause, repeats included', async () => {
    const phonemiser = new EspeakPhonemiser();
    const ipa = await phonemiser.phonemise(['hello', 'Doctor Smith', 'hello', ''], 'en-us');
    expect(ipa).toEqual(['həlˈoʊ', 'dˈɑːktɚ smˈɪθ', 'həlˈoʊ', '']);
  });

  it('keeps one string per clause even when a clause holds characters espeak-ng would split on', async () => {
    const ipa = await new EspeakPhonemiser().phonemise(['one. two', 'three: four'], 'en-us');
    expect(ipa).toEqual(['wˈʌn tˈuː', 'θɹˈiː fˈoːɹ']);
  });

  it('refuses an invalid voice and reports a missing executable', async () => {
    await expect(new EspeakPhonemiser().phonemise(['x'], 'en us; rm')).rejects.toThrow(PhonemiserError);
    await expect(new EspeakPhonemiser({ command: '/nonexistent/espeak-ng' }).phonemise(['x'], 'en-us')).rejects.toThrow(
      /cannot run/,
    );
  });
});
