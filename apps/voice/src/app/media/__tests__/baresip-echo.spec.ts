// Acceptance (issue 16): a real user agent (baresip) calls an echo application while playing espeak-ng speech and
// records what it hears; after the G.711 round trip the recording matches the speech (normalised
// cross-correlation > 0.9).
import { downmixToMono, readWav, resample, writeWav } from '@sovren/audio';
import { baresipCall, ensureBaresip } from '@sovren/testing';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { startVoiceTestEnvironment, type VoiceTestEnvironment } from '../../__tests__/support/voice-test-environment';

const NUMBER = '+15557770001';
const SPEECH = 'Hello. This call checks the echo application over real telephone audio, one two three four five.';

/** Max over lags of the normalised cross-correlation of `heard` against `played` (heard lags played). */
function bestCorrelation(played: Float32Array, heard: Float32Array, maxLag: number): { ncc: number; lag: number } {
  let best = { ncc: -1, lag: 0 };
  for (let lag = 0; lag <= maxLag; lag += 1) {
    const n = Math.min(played.length, heard.length - lag);
    if (n <= 0) break;
    let xy = 0;
    let xx = 0;
    let yy = 0;
    for (let i = 0; i < n; i++) {
      const x = played[i];
      const y = heard[i + lag];
      xy += x * y;
      xx += x * x;
      yy += y * y;
    }
    const ncc = xx > 0 && yy > 0 ? xy / Math.sqrt(xx * yy) : 0;
    if (ncc > best.ncc) best = { ncc, lag };
  }
  return best;
}

describe('baresip calls the echo application', () => {
  let env: VoiceTestEnvironment;

  beforeAll(async () => {
    ensureBaresip();
    env = await startVoiceTestEnvironment();
    env.seedNumber(NUMBER, { mediaApp: 'echo' });
  }, 120_000);

  afterAll(async () => {
    await env?.dispose();
  });

  it('hears its own espeak-ng speech back (normalised cross-correlation > 0.9 after G.711 both ways)', async () => {
    const dir = join(env.root, 'baresip');
    mkdirSync(dir, { recursive: true });
    // espeak-ng speaks at 22050 Hz; baresip's file source plays 8 kHz mono, the telephone rate.
    execFileSync('espeak-ng', ['-v', 'en-us', '-s', '150', '-w', join(dir, 'speech-22k.wav'), SPEECH]);
    const spoken = readWav(readFileSync(join(dir, 'speech-22k.wav')));
    const mono = spoken.channels === 1 ? spoken.samples : downmixToMono(spoken.samples, spoken.channels);
    const speech = await resample(mono, spoken.sampleRate, 8000);
    writeFileSync(join(dir, 'speech.wav'), writeWav(speech, 8000));
    const call = await baresipCall({
      dir,
      wavPath: join(dir, 'speech.wav'),
      uri: `sip:${NUMBER}@127.0.0.1:${env.sipPort}`,
      seconds: Math.ceil(speech.length / 8000) + 4,
    });
    const heard = readWav(readFileSync(call.heardWav));
    expect(heard.sampleRate).toBe(8000);
    const { ncc, lag } = bestCorrelation(speech, heard.samples, 8000);
    console.log(`baresip echo: normalised cross-correlation ${ncc.toFixed(3)} at ${lag / 8} ms`);
    expect(ncc).toBeGreaterThan(0.9);
    // The call went through the SIP side as a PCMU call of the echo application.
    const calls = await env.query<{ codec: string }>(`SELECT "codec" FROM "voice_calls"`);
    expect(calls).toEqual([{ codec: 'PCMU' }]);
  }, 60_000);
});
