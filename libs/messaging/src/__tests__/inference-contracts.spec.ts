// Specification of the inference.generate / inference.models contracts and the cancel subject.

import {
  ContractError,
  inferenceCancelSubject,
  parseInferenceGenerateReplyV1,
  parseInferenceGenerateRequestV1,
  parseInferenceGenerateStreamMessageV1,
  parseInferenceModelsReplyV1,
} from '../index';

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof ContractError) return error.field;
    throw error;
  }
  throw new Error('expected a ContractError');
}

function request(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    v: 1,
    requestId: 'req-1',
    ownerId: 'user-1',
    model: 'tiny',
    messages: [{ role: 'user', content: 'Hello' }],
    streamSubject: '_INBOX.abc',
    stream: true,
    maxTokens: 8,
    temperature: 0.7,
    topK: 40,
    seed: 3,
    stop: ['\n'],
    ...overrides,
  };
}

describe('InferenceGenerateRequestV1', () => {
  it('accepts a chat request and a completion request unchanged', () => {
    expect(parseInferenceGenerateRequestV1(request())).toEqual(request());
    const completion = request({ messages: undefined, prompt: 'Once upon', keyId: 'k1' });
    delete completion['messages'];
    expect(parseInferenceGenerateRequestV1(completion)).toEqual(completion);
  });

  it('names the field that is wrong', () => {
    expect(fieldOf(() => parseInferenceGenerateRequestV1(request({ prompt: 'both' })))).toBe('messages');
    expect(fieldOf(() => parseInferenceGenerateRequestV1(request({ messages: [] })))).toBe('messages');
    expect(
      fieldOf(() => parseInferenceGenerateRequestV1(request({ messages: [{ role: 'robot', content: 'x' }] }))),
    ).toBe('role');
    expect(fieldOf(() => parseInferenceGenerateRequestV1(request({ maxTokens: 0 })))).toBe('maxTokens');
    expect(fieldOf(() => parseInferenceGenerateRequestV1(request({ stream: 'yes' })))).toBe('stream');
    expect(fieldOf(() => parseInferenceGenerateRequestV1(request({ stop: ['a', 'b', 'c', 'd', 'e'] })))).toBe('stop');
    expect(fieldOf(() => parseInferenceGenerateRequestV1(request({ requestId: 'a.b' })))).toBe('requestId');
    expect(fieldOf(() => parseInferenceGenerateRequestV1(request({ streamSubject: 'x.>' })))).toBe('streamSubject');
    expect(fieldOf(() => parseInferenceGenerateRequestV1(request({ ownerId: undefined })))).toBe('ownerId');
  });
});

describe('inference.generate replies and stream messages', () => {
  it('round-trips accepted and refused replies', () => {
    const accepted = {
      v: 1,
      accepted: true,
      requestId: 'r',
      promptTokens: 5,
      cancelSubject: inferenceCancelSubject('r'),
    };
    expect(parseInferenceGenerateReplyV1(accepted)).toEqual(accepted);
    const refused = {
      v: 1,
      accepted: false,
      requestId: 'r',
      error: { code: 'model_not_found', message: 'no model x' },
    };
    expect(parseInferenceGenerateReplyV1(refused)).toEqual(refused);
    expect(fieldOf(() => parseInferenceGenerateReplyV1({ ...accepted, cancelSubject: '' }))).toBe('cancelSubject');
  });

  it('round-trips chunks and final messages', () => {
    const chunk = { v: 1, type: 'chunk', requestId: 'r', index: 0, text: 'Hi' };
    expect(parseInferenceGenerateStreamMessageV1(chunk)).toEqual(chunk);
    const final = {
      v: 1,
      type: 'final',
      requestId: 'r',
      text: 'Hi',
      finishReason: 'length',
      promptTokens: 4,
      completionTokens: 2,
    };
    expect(parseInferenceGenerateStreamMessageV1(final)).toEqual(final);
    expect(fieldOf(() => parseInferenceGenerateStreamMessageV1({ ...final, finishReason: 'bored' }))).toBe(
      'finishReason',
    );
    expect(fieldOf(() => parseInferenceGenerateStreamMessageV1({ ...chunk, text: 3 }))).toBe('text');
  });

  it('builds the cancel subject from one token', () => {
    expect(inferenceCancelSubject('req-1')).toBe('inference.cancel.req-1');
    expect(() => inferenceCancelSubject('a.>')).toThrow(/requestId/);
  });
});

describe('InferenceModelsReplyV1', () => {
  it('validates the model list', () => {
    const reply = {
      v: 1,
      models: [
        { id: 'a', state: 'loaded', contextSize: 128 },
        { id: 'b', state: 'failed', error: 'bad file' },
        { id: 'c', kind: 'whisper', state: 'unloaded' },
        { id: 'd', kind: 'llm', state: 'unloaded' },
        { id: 'e', kind: 'tts', state: 'loaded' },
      ],
    };
    expect(parseInferenceModelsReplyV1(reply)).toEqual(reply);
    expect(fieldOf(() => parseInferenceModelsReplyV1({ v: 1, models: [{ id: 'a', state: 'sleeping' }] }))).toBe(
      'state',
    );
    expect(
      fieldOf(() => parseInferenceModelsReplyV1({ v: 1, models: [{ id: 'a', kind: 'vision', state: 'loaded' }] })),
    ).toBe('kind');
  });
});
