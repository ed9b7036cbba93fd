import {
  parseInferenceSynthesizeReplyV1,
  parseInferenceSynthesizeRequestV1,
  parseInferenceSynthesizeStreamMessageV1,
} from '../contracts/inference-synthesize.contract';
import { parseUsageEventV1 } from '../contracts/usage-event.contract';
import { inferenceSynthesizeCancelSubject } from '../subjects';

const request = {
  v: 1,
  requestId: 'call-1-turn-3',
  ownerId: 'user-1',
  model: 'kokoro-82m',
  voice: 'af_heart',
  input: 'Hello.',
  streamSubject: '_INBOX.abc.1',
};

describe('inference.synthesize contract', () => {
  it('parses a request with its optional fields and round-trips it', () => {
    const full = { ...request, keyId: 'key-1', speed: 1.5, sampleRate: 8000 };
    expect(parseInferenceSynthesizeRequestV1(full)).toEqual(full);
    expect(parseInferenceSynthesizeRequestV1(request)).toEqual(request);
  });

  it.each([
    ['a stream subject outside the caller inbox', { streamSubject: 'usage.inference' }, /streamSubject/],
    ['a wildcard stream subject', { streamSubject: '_INBOX.>' }, /streamSubject/],
    ['a request id with a dot', { requestId: 'a.b' }, /requestId/],
    ['an empty input', { input: '' }, /input/],
    ['an input over 4096 characters', { input: 'x'.repeat(4097) }, /input/],
    ['a speed of 5', { speed: 5 }, /speed/],
    ['a sample rate of 4000', { sampleRate: 4000 }, /sampleRate/],
    ['a fractional sample rate', { sampleRate: 8000.5 }, /sampleRate/],
  ])('refuses %s', (_name, change, field) => {
    expect(() => parseInferenceSynthesizeRequestV1({ ...request, ...change })).toThrow(field);
  });

  it('parses both replies and both stream messages', () => {
    const cancelSubject = inferenceSynthesizeCancelSubject('call-1-turn-3');
    expect(cancelSubject).toBe('inference.synthesize.cancel.call-1-turn-3');
    expect(
      parseInferenceSynthesizeReplyV1({ v: 1, accepted: true, requestId: 'r', sampleRate: 8000, cancelSubject }),
    ).toMatchObject({ accepted: true, sampleRate: 8000 });
    expect(
      parseInferenceSynthesizeReplyV1({
        v: 1,
        accepted: false,
        requestId: 'r',
        error: { code: 'queue_full', message: 'm' },
      }),
    ).toMatchObject({ accepted: false, error: { code: 'queue_full' } });
    expect(
      parseInferenceSynthesizeStreamMessageV1({ v: 1, type: 'chunk', requestId: 'r', index: 0, audio: 'AAA=' }),
    ).toEqual({
      v: 1,
      type: 'chunk',
      requestId: 'r',
      index: 0,
      audio: 'AAA=',
    });
    const final = {
      v: 1,
      type: 'final',
      requestId: 'r',
      finishReason: 'cancelled',
      chunks: 2,
      sampleRate: 8000,
      audioSeconds: 1.25,
      characters: 40,
    };
    expect(parseInferenceSynthesizeStreamMessageV1(final)).toEqual(final);
    expect(() => parseInferenceSynthesizeStreamMessageV1({ ...final, finishReason: 'done' })).toThrow(/finishReason/);
  });

  it('carries the speech detail of a usage event', () => {
    const event = {
      v: 1,
      eventId: 'e1',
      requestId: 'r1',
      ownerId: 'u1',
      source: 'inference',
      quantities: { tts_characters: 12 },
      tts: {
        model: 'kokoro-82m',
        voice: 'af_heart',
        characters: 12,
        audioSeconds: 1.5,
        finishReason: 'stop',
        timeToFirstAudioMs: 80,
        durationMs: 300,
      },
      occurredAt: '2026-12-02T19:00:00.000Z',
    };
    expect(parseUsageEventV1(event)).toEqual(event);
    expect(() => parseUsageEventV1({ ...event, tts: { ...event.tts, audioSeconds: -1 } })).toThrow(/audioSeconds/);
  });
});
