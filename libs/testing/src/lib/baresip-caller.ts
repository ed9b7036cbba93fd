// A real SIP user agent for tests: baresip (Debian baresip-core) dials a URI, plays an 8 kHz mono WAV as its
// microphone and dumps what it sent (`*-enc.wav`) and what it heard (`*-dec.wav`), then hangs up after `seconds`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { OwnedProcess } from './owned-process';

const workspaceRoot = resolve(__dirname, '../../../..');

/** Installs baresip (Debian baresip-core) when it is missing, as the CI script does for other packages. */
export function ensureBaresip(): void {
  try {
    execFileSync('baresip', ['-h'], { stdio: 'ignore' });
  } catch (error: unknown) {
    // `baresip -h` exits non-zero by design; only a missing binary needs the install.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return;
    execFileSync('bash', [join(workspaceRoot, 'tools/ci/ensure-system-packages.sh')], { stdio: 'inherit' });
  }
}

export interface BaresipCall {
  /** What baresip heard (8 kHz mono WAV). */
  heardWav: string;
  /** What baresip sent (8 kHz mono WAV), on the same clock as the dumps start. */
  sentWav: string | null;
  output: string;
}

/** Dials `uri` from 127.0.0.1 playing `wavPath` (8 kHz mono) and waits until baresip quits after `seconds`. */
export async function baresipCall(options: {
  dir: string;
  wavPath: string;
  uri: string;
  seconds: number;
  /** RTP port range (default 40000-49999); give concurrent callers their own. */
  rtpPorts?: [number, number];
}): Promise<BaresipCall> {
  const { dir } = options;
  const dumps = join(dir, 'dumps');
  mkdirSync(dumps, { recursive: true });
  writeFileSync(
    join(dir, 'config'),
    [
      'poll_method epoll',
      'sip_listen 127.0.0.1:0',
      `audio_source aufile,${options.wavPath}`,
      'audio_player aubridge,nil',
      'audio_alert aubridge,nil',
      'audio_srate 8000',
      'audio_channels 1',
      `rtp_ports ${(options.rtpPorts ?? [40000, 49999]).join('-')}`,
      // Loopback has no jitter: a small receive buffer keeps the recording's clock close to the wire's.
      'jitter_buffer_delay 1-2',
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
    ['-f', dir, '-n', '127.0.0.1', '-e', `/dial ${options.uri}`, '-t', String(options.seconds)],
    process.env,
  );
  await baresip.waitForExit();
  const files = readdirSync(dumps);
  const heard = files.find((name) => name.endsWith('-dec.wav'));
  if (!heard) throw new Error(`baresip recorded nothing; its output:\n${baresip.tail(40)}`);
  const sent = files.find((name) => name.endsWith('-enc.wav'));
  return {
    heardWav: join(dumps, heard),
    sentWav: sent ? join(dumps, sent) : null,
    output: baresip.lines.join('\n'),
  };
}
