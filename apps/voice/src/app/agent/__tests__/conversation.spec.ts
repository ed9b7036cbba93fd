import type { InferenceChatMessageV1 } from '@sovren/messaging';

import { approximateTokens, heardText, historyWithin } from '../conversation';

describe('heardText', () => {
  const pieces = [
    { text: 'Good evening.', audioMs: 1000 },
    { text: 'We have a table at eight for two people.', audioMs: 2000 },
    { text: 'Shall I book it?', audioMs: 1000 },
  ];

  it('keeps whole pieces played and the share of words of the cut one', () => {
    expect(heardText(pieces, 0)).toBe('');
    expect(heardText(pieces, 499)).toBe('');
    expect(heardText(pieces, 999)).toBe('Good');
    expect(heardText(pieces, 1000)).toBe('Good evening.');
    // Half of the second piece's audio: half of its 9 words, rounded down.
    expect(heardText(pieces, 2000)).toBe('Good evening. We have a table');
    expect(heardText(pieces, 4000)).toBe(pieces.map((p) => p.text).join(' '));
    expect(heardText(pieces, 60_000)).toBe(pieces.map((p) => p.text).join(' '));
  });

  it('is a prefix of the utterance for every position', () => {
    const whole = pieces.map((p) => p.text).join(' ');
    for (let ms = 0; ms <= 4000; ms += 37) expect(whole.startsWith(heardText(pieces, ms))).toBe(true);
  });
});

describe('historyWithin', () => {
  const system: InferenceChatMessageV1 = { role: 'system', content: 'You are brief.' };
  const turn = (i: number): InferenceChatMessageV1[] => [
    { role: 'user', content: `question ${i} `.repeat(10) },
    { role: 'assistant', content: `answer ${i} `.repeat(10) },
  ];
  const messages = [
    { role: 'assistant' as const, content: 'Hello, how can I help?' },
    ...turn(1),
    ...turn(2),
    ...turn(3),
  ];

  it('keeps everything, greeting included, when it fits', () => {
    expect(historyWithin(system, messages, 10_000)).toEqual([system, ...messages]);
  });

  it('drops the oldest turns first and never starts on an orphaned answer', () => {
    const budget = approximateTokens(system) + turn(3).reduce((n, m) => n + approximateTokens(m), 0) + 10;
    const kept = historyWithin(system, messages, budget);
    expect(kept).toEqual([system, ...turn(3)]);
  });

  it('always keeps the latest message, even over the budget', () => {
    const kept = historyWithin(null, messages, 1);
    expect(kept).toEqual([messages[messages.length - 1]]);
  });
});
