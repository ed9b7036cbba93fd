// Specification of stop-string matching on streamed text.
import { StopMatcher } from '../stop-matcher';

describe('StopMatcher', () => {
  it('holds back a possible start of a stop string until the next text decides it', () => {
    const m = new StopMatcher(['END']);
    expect(m.push('Hello E')).toEqual({ emit: 'Hello ', stopped: false });
    expect(m.push('N')).toEqual({ emit: '', stopped: false });
    expect(m.push('D and more')).toEqual({ emit: '', stopped: true });
  });

  it('releases held text that turned out not to be a stop string', () => {
    const m = new StopMatcher(['END']);
    expect(m.push('Hello EN')).toEqual({ emit: 'Hello ', stopped: false });
    expect(m.push('ough')).toEqual({ emit: 'ENough', stopped: false });
    expect(m.push('E')).toEqual({ emit: '', stopped: false });
    expect(m.flush()).toBe('E');
  });

  it('stops at the earliest of several stop strings, inside one piece of text', () => {
    const m = new StopMatcher(['\n\n', 'User:']);
    expect(m.push('Answer. User: hi\n\n')).toEqual({ emit: 'Answer. ', stopped: true });
  });

  it('passes everything through without stop strings', () => {
    const m = new StopMatcher([]);
    expect(m.push('abc')).toEqual({ emit: 'abc', stopped: false });
    expect(m.flush()).toBe('');
  });
});
