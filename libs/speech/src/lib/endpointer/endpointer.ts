// Turn-taking over VAD probabilities (pure logic, no audio): speech starts after `startMs` of frames above the
// threshold, the turn ends after `endMs` below the (lower) end threshold, bursts shorter than `minSpeechMs` are
// discarded as noise, and `preRollMs` says how much audio before the start the caller should keep.

export interface EndpointerSettings {
  /** Probability at or above which a frame is speech (Silero: 0.5). */
  threshold: number;
  /** Probability below which a frame is silence once speaking (hysteresis; default threshold − 0.15). */
  endThreshold?: number;
  /** Consecutive speech needed to declare a start (ms). */
  startMs: number;
  /** Consecutive silence that ends the turn (ms). */
  endMs: number;
  /** Speech shorter than this (first speech frame to last) is reported as discarded, not as a turn (ms). */
  minSpeechMs: number;
  /** Audio to keep before the detected start, so the first syllable is not clipped (ms). */
  preRollMs: number;
}

export const DEFAULT_ENDPOINTER_SETTINGS: Readonly<EndpointerSettings> = {
  threshold: 0.5,
  startMs: 96,
  endMs: 700,
  minSpeechMs: 250,
  preRollMs: 300,
};

export type EndpointerEvent =
  /** Speech confirmed; `speechStartMs` is when its first frame began, `audioFromMs` where to cut with pre-roll. */
  | { type: 'speech-start'; atMs: number; speechStartMs: number; audioFromMs: number }
  /** End of turn after real speech. */
  | { type: 'turn-end'; atMs: number; speechStartMs: number; speechEndMs: number; audioFromMs: number }
  /** The speech was too short (a cough, a click): the caller may resume what it was doing. */
  | { type: 'speech-discarded'; atMs: number; speechStartMs: number; speechEndMs: number };

/** Validates settings (merged over the defaults); throws a RangeError naming the bad field. */
export function endpointerSettings(overrides: Partial<EndpointerSettings> = {}): EndpointerSettings {
  const s: EndpointerSettings = { ...DEFAULT_ENDPOINTER_SETTINGS, ...overrides };
  const endThreshold = s.endThreshold ?? Math.max(0.01, s.threshold - 0.15);
  if (!(s.threshold > 0 && s.threshold <= 1)) throw new RangeError(`threshold must be in (0, 1], got ${s.threshold}`);
  if (!(endThreshold > 0 && endThreshold <= s.threshold)) {
    throw new RangeError(`endThreshold must be in (0, threshold], got ${endThreshold}`);
  }
  for (const field of ['startMs', 'endMs', 'minSpeechMs', 'preRollMs'] as const) {
    if (!(Number.isFinite(s[field]) && s[field] >= 0 && s[field] <= 60_000)) {
      throw new RangeError(`${field} must be from 0 to 60000 ms, got ${s[field]}`);
    }
  }
  return { ...s, endThreshold };
}

export class Endpointer {
  private readonly settings: EndpointerSettings & { endThreshold: number };
  private frames = 0;
  private speaking = false;
  /** Start of the current run of speech frames (ms), or undefined. */
  private runStartMs: number | undefined;
  private speechStartMs = 0;
  private lastSpeechEndMs = 0;

  /**
   * @param frameMs duration of each probability's frame (Silero at 16 kHz: 512 samples = 32 ms).
   */
  constructor(
    readonly frameMs: number,
    settings: Partial<EndpointerSettings> = {},
  ) {
    if (!(frameMs > 0 && frameMs <= 1_000)) throw new RangeError(`frameMs must be in (0, 1000], got ${frameMs}`);
    this.settings = endpointerSettings(settings) as EndpointerSettings & { endThreshold: number };
  }

  /** Whether a turn is in progress (speech started and not yet ended). */
  get inSpeech(): boolean {
    return this.speaking;
  }

  /** Time covered by the frames pushed so far (ms). */
  get elapsedMs(): number {
    return this.frames * this.frameMs;
  }

  /** Feeds the probability of the next frame; returns the events it caused (usually none). */
  push(probability: number): EndpointerEvent[] {
    if (!(probability >= 0 && probability <= 1))
      throw new RangeError(`probability must be in [0, 1], got ${probability}`);
    const frameStart = this.elapsedMs;
    this.frames++;
    const now = this.elapsedMs;
    const s = this.settings;
    if (!this.speaking) {
      if (probability >= s.threshold) {
        this.runStartMs ??= frameStart;
        this.lastSpeechEndMs = now;
        if (now - this.runStartMs >= s.startMs) {
          this.speaking = true;
          this.speechStartMs = this.runStartMs;
          return [
            { type: 'speech-start', atMs: now, speechStartMs: this.speechStartMs, audioFromMs: this.audioFrom() },
          ];
        }
      } else {
        this.runStartMs = undefined;
      }
      return [];
    }
    if (probability >= s.endThreshold) {
      this.lastSpeechEndMs = now;
      return [];
    }
    if (now - this.lastSpeechEndMs < s.endMs) return [];
    this.speaking = false;
    this.runStartMs = undefined;
    const speechEndMs = this.lastSpeechEndMs;
    if (speechEndMs - this.speechStartMs < s.minSpeechMs) {
      return [{ type: 'speech-discarded', atMs: now, speechStartMs: this.speechStartMs, speechEndMs }];
    }
    return [
      { type: 'turn-end', atMs: now, speechStartMs: this.speechStartMs, speechEndMs, audioFromMs: this.audioFrom() },
    ];
  }

  /** Forgets everything (a new call or after the agent's own turn). */
  reset(): void {
    this.frames = 0;
    this.speaking = false;
    this.runStartMs = undefined;
    this.speechStartMs = 0;
    this.lastSpeechEndMs = 0;
  }

  private audioFrom(): number {
    return Math.max(0, this.speechStartMs - this.settings.preRollMs);
  }
}
