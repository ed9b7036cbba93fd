// Acceptance (issue 16): a real user agent (baresip) calls an echo application while playing espeak-ng speech and
// records what it hears; after the G.711 round trip the recording matches the speech (normalised
// cross-correlation > 0.9).
import { downmixToMono, readWav, resample, writeWav } from '@sovren/audio';
import { OwnedProcess } from '@sovren/testing';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { startVoiceTestEnvironment, type VoiceTestEnvironment } from '../../__tests__/support/voice-test-environment';

const NUMBER = '+15557770001';
const SPEECH = 'Hello. This call checks the echo application over real telephone audio, one two three four five.';

/** Installs baresip (Debian baresip-core) when it is missing, as the CI script does for other packages. */
function ensureBaresip(): void {
  try {
    execFileSync('baresip', ['-h'], { stdio: 'ignore' });
  } catch (error: unknown) {
    // `baresip -h` exits non-zero by design; only a missing binary needs the install.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return;
    execFileSync('bash', [join(__dirname, '../../../../../../tools/ci/ensure-system-packages.sh')], {
      stdio: 'inherit',
    });
  }
}

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
    const dumps = join(dir, 'dumps');
    mkdirSync(dumps, { recursive: true });
    // espeak-ng speaks at 22050 Hz; baresip's file source plays 8 kHz mono, the telephone rate.
    execFileSync('espeak-ng', ['-v', 'en-us', '-s', '150', '-w', join(dir, 'speech-22k.wav'), SPEECH]);
    const spoken = readWav(readFileSync(join(dir, 'speech-22k.wav')));
    const mono = spoken.channels === 1 ? spoken.samples : downmixToMono(spoken.samples, spoken.channels);
    const speech = await resample(mono, spoken.sampleRate, 8000);
    writeFileSync(join(dir, 'speech.wav'), writeWav(speech, 8000));
    const seconds = Math.ceil(speech.length / 8000) + 4;
    writeFileSync(
      join(dir, 'config'),
      [
        'poll_method epoll',
        'sip_listen 127.0.0.1:0',
        `audio_source aufile,${join(dir, 'speech.wav')}`,
        'audio_player aubridge,nil',
        'audio_alert aubridge,nil',
        'audio_srate 8000',
        'audio_channels 1',
        'rtp_ports 40000-49999',
        'module_path /usr/lib/baresip/modules',
        'module g711.so',
        'module aufile.so',
        'module aubridge.so',
        'module sndfile.so',
        'module_app account.so',
        'module_app menu.so',
        `snd_path ${dumps}`,
        '',
      ].join('\n'),
    );
    // -n 127.0.0.1: baresip's SDP names the address it sends from (its eth0 address would be a foreign source).
    writeFileSync(join(dir, 'accounts'), '<sip:caller@127.0.0.1>;regint=0;audio_codecs=PCMU\n');
    const baresip = new OwnedProcess(
      'baresip',
      'baresip',
      ['-f', dir, '-n', '127.0.0.1', '-e', `/dial sip:${NUMBER}@127.0.0.1:${env.sipPort}`, '-t', String(seconds)],
      process.env,
    );
    await baresip.waitForExit();
    const decoded = readdirSync(dumps).find((name) => name.endsWith('-dec.wav'));
    if (!decoded) throw new Error(`baresip recorded nothing; its output:\n${baresip.tail(40)}`);
    const heard = readWav(readFileSync(join(dumps, decoded)));
    expect(heard.sampleRate).toBe(8000);
    const { ncc, lag } = bestCorrelation(speech, heard.samples, 8000);
    console.log(`baresip echo: normalised cross-correlation ${ncc.toFixed(3)} at ${lag / 8} ms`);
    expect(ncc).toBeGreaterThan(0.9);
    // The call went through the SIP side as a PCMU call of the echo application.
    const calls = await env.query<{ codec: string }>(`SELECT "codec" FROM "voice_calls"`);
    expect(calls).toEqual([{ codec: 'PCMU' }]);
  }, 60_000);
});
