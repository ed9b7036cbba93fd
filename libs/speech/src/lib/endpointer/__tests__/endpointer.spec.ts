import { Endpointer, EndpointerEvent, endpointerSettings } from '../endpointer';

/** Feeds `ms` of frames at probability p and collects the events. */
function feed(endpointer: Endpointer, plan: Array<[number, number]>): EndpointerEvent[] {
  const events: EndpointerEvent[] = [];
  for (const [ms, p] of plan) for (let t = 0; t < ms; t += endpointer.frameMs) events.push(...endpointer.push(p));
  return events;
}

describe('Endpointer', () => {
  const settings = { threshold: 0.5, startMs: 64, endMs: 320, minSpeechMs: 200, preRollMs: 128 };

  it('starts after startMs above threshold and ends the turn after endMs below, with pre-roll', () => {
    const endpointer = new Endpointer(32, settings);
    const events = feed(endpointer, [
      [640, 0.05],
      [960, 0.9],
      [640, 0.02],
    ]);
    expect(events).toEqual([
      { type: 'speech-start', atMs: 704, speechStartMs: 640, audioFromMs: 512 },
      { type: 'turn-end', atMs: 1920, speechStartMs: 640, speechEndMs: 1600, audioFromMs: 512 },
    ]);
    expect(endpointer.inSpeech).toBe(false);
  });

  it('needs the speech run to be consecutive: isolated spikes never start a turn', () => {
    const endpointer = new Endpointer(32, settings);
    const plan: Array<[number, number]> = [];
    for (let i = 0; i < 20; i++) plan.push([32, 0.95], [32, 0.1]);
    expect(feed(endpointer, plan)).toEqual([]);
  });

  it('keeps the turn open through pauses shorter than endMs (hysteresis below the start threshold)', () => {
    const endpointer = new Endpointer(32, settings);
    const events = feed(endpointer, [
      [320, 0.9],
      [256, 0.1],
      [320, 0.4], // between endThreshold (0.35) and threshold: still speech once speaking
      [320, 0.9],
      [320, 0.0],
    ]);
    expect(events.map((e) => e.type)).toEqual(['speech-start', 'turn-end']);
    expect(events[1]).toMatchObject({ speechStartMs: 0, speechEndMs: 1216 });
  });

  it('reports speech shorter than minSpeechMs as discarded instead of a turn', () => {
    const endpointer = new Endpointer(32, settings);
    const events = feed(endpointer, [
      [128, 0.9],
      [400, 0.0],
    ]);
    expect(events).toEqual([
      { type: 'speech-start', atMs: 64, speechStartMs: 0, audioFromMs: 0 },
      { type: 'speech-discarded', atMs: 448, speechStartMs: 0, speechEndMs: 128 },
    ]);
  });

  it('validates its settings and input, and reset() starts over', () => {
    expect(() => endpointerSettings({ threshold: 0 })).toThrow(/threshold/);
    expect(() => endpointerSettings({ endThreshold: 0.9 })).toThrow(/endThreshold/);
    expect(() => endpointerSettings({ endMs: -1 })).toThrow(/endMs/);
    expect(() => new Endpointer(0)).toThrow(/frameMs/);
    const endpointer = new Endpointer(32, settings);
    expect(() => endpointer.push(Number.NaN)).toThrow(/probability/);
    feed(endpointer, [[320, 0.9]]);
    expect(endpointer.inSpeech).toBe(true);
    endpointer.reset();
    expect(endpointer.inSpeech).toBe(false);
    expect(endpointer.elapsedMs).toBe(0);
  });
});
