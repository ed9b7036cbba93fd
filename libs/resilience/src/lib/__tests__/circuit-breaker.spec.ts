import { CircuitBreaker, CircuitState } from '../circuit-breaker';

function breaker(failureThreshold = 3, openMs = 1_000) {
  let now = 0;
  const states: CircuitState[] = [];
  const circuit = new CircuitBreaker({
    failureThreshold,
    openMs,
    now: () => now,
    onStateChange: (state) => states.push(state),
  });
  return { circuit, states, advance: (ms: number) => (now += ms) };
}

describe('CircuitBreaker', () => {
  it('opens after failureThreshold consecutive failures and then refuses calls', () => {
    const { circuit, states } = breaker(3);
    for (let i = 0; i < 3; i += 1) {
      expect(circuit.tryAcquire()).toBe(true);
      circuit.onFailure();
    }
    expect(circuit.state).toBe('open');
    expect(states).toEqual(['open']);
    expect(circuit.tryAcquire()).toBe(false);
  });

  it('counts only consecutive failures: a success or a neutral answer starts over', () => {
    const { circuit } = breaker(2);
    circuit.onFailure();
    circuit.onSuccess();
    circuit.onFailure();
    circuit.onNeutral();
    circuit.onFailure();
    expect(circuit.state).toBe('closed');
  });

  it('lets one trial call through after openMs, and closes on its success', () => {
    const { circuit, states, advance } = breaker(1, 1_000);
    circuit.onFailure();
    advance(400);
    expect(circuit.retryInMs()).toBe(600);
    expect(circuit.tryAcquire()).toBe(false);
    advance(600);
    expect(circuit.tryAcquire()).toBe(true);
    expect(circuit.state).toBe('half_open');
    expect(circuit.tryAcquire()).toBe(false); // one trial at a time
    circuit.onSuccess();
    expect(circuit.state).toBe('closed');
    expect(states).toEqual(['open', 'half_open', 'closed']);
  });

  it('opens again at once when the trial call fails', () => {
    const { circuit, advance } = breaker(5, 1_000);
    for (let i = 0; i < 5; i += 1) circuit.onFailure();
    advance(1_000);
    expect(circuit.tryAcquire()).toBe(true);
    circuit.onFailure();
    expect(circuit.state).toBe('open');
    expect(circuit.retryInMs()).toBe(1_000);
  });

  it('refuses a failure threshold below 1', () => {
    expect(() => new CircuitBreaker({ failureThreshold: 0, openMs: 1 })).toThrow(/failureThreshold/);
  });
});
