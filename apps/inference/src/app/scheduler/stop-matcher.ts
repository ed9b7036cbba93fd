// Matches `stop` strings on generated text as it streams. Text that could be the start of a stop string is held
// back until the next token decides it, so a client never sees part of a stop string; the stop text itself is
// never returned.

export interface StopMatch {
  /** Text that may be sent now. */
  emit: string;
  /** true once a stop string was found: generation must end, and `emit` is the last text. */
  stopped: boolean;
}

export class StopMatcher {
  private held = '';

  constructor(private readonly stops: readonly string[]) {}

  push(text: string): StopMatch {
    if (this.stops.length === 0) return { emit: text, stopped: false };
    const buffer = this.held + text;
    let first = -1;
    for (const stop of this.stops) {
      const at = buffer.indexOf(stop);
      if (at >= 0 && (first < 0 || at < first)) first = at;
    }
    if (first >= 0) {
      this.held = '';
      return { emit: buffer.slice(0, first), stopped: true };
    }
    const keep = this.partialSuffixLength(buffer);
    this.held = buffer.slice(buffer.length - keep);
    return { emit: buffer.slice(0, buffer.length - keep), stopped: false };
  }

  /** The held-back text, once generation ended for another reason (it was not a stop string after all). */
  flush(): string {
    const rest = this.held;
    this.held = '';
    return rest;
  }

  /** Length of the longest end of `buffer` that is a proper beginning of some stop string. */
  private partialSuffixLength(buffer: string): number {
    let best = 0;
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, buffer.length); n > best; n--) {
        if (buffer.endsWith(stop.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
