import { errorMessage, errorMessageWithStack } from '../error-message';

describe('errorMessage', () => {
  it("gives an Error's message", () => {
    expect(errorMessage(new TypeError('bad input'))).toBe('bad input');
  });

  it('gives anything else thrown as a string', () => {
    expect(errorMessage('plain string')).toBe('plain string');
    expect(errorMessage(42)).toBe('42');
    expect(errorMessage(undefined)).toBe('undefined');
  });

  it('adds the stack trace on request', () => {
    const error = new Error('boom');
    expect(errorMessageWithStack(error)).toBe(`boom\n${error.stack}`);
    expect(errorMessageWithStack('boom')).toBe('boom');
  });
});
