// Media applications until the speech loop exists (issue 16 item 7): echo the caller, play a WAV prompt.
import { readFile } from 'node:fs/promises';
import { downmixToMono, float32ToInt16, readWav, resample } from '@sovren/audio';
import { G711_SAMPLE_RATE } from './media-format';
import { RtpSessionClosedError, type RtpSession } from './rtp-session';

/** Echo keeps at most this much queued: a caller clock running fast must not grow the delay without bound. */
const ECHO_MAX_QUEUED_MS = 200;
/** Prompts are short; a bigger file is a mistake, not a prompt. */
const MAX_PROMPT_BYTES = 64 * 1024 * 1024;

/** Sends the caller's audio straight back (8 kHz in, 8 kHz out: no resampling); returns the function that stops it. */
export function startEcho(session: RtpSession): () => void {
  const onFrame = (frame: Int16Array) => {
    if (session.playbackQueuedMs < ECHO_MAX_QUEUED_MS) session.play(frame, G711_SAMPLE_RATE);
  };
  session.on('callerFrame8k', onFrame);
  return () => {
    session.off('callerFrame8k', onFrame);
  };
}

/** Plays a WAV file (PCM/float/G.711, any rate, mono or stereo) and resolves once its last packet has been sent. */
export async function playWav(session: RtpSession, wavPath: string): Promise<void> {
  const bytes = await readFile(wavPath);
  if (bytes.length > MAX_PROMPT_BYTES) throw new RangeError(`${wavPath}: ${bytes.length} bytes is too big a prompt`);
  const wav = readWav(bytes);
  const mono = wav.channels === 1 ? wav.samples : downmixToMono(wav.samples, wav.channels);
  const at8k = wav.sampleRate === G711_SAMPLE_RATE ? mono : await resample(mono, wav.sampleRate, G711_SAMPLE_RATE);
  session.play(float32ToInt16(at8k), G711_SAMPLE_RATE);
  await drained(session);
}

/** Resolves when the play queue is empty (checked each 20 ms as frames go out); rejects if the session closes. */
function drained(session: RtpSession): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (session.playbackQueuedMs > 0) return;
      done();
      resolve();
    };
    const onClosed = () => {
      done();
      reject(new RtpSessionClosedError('RTP session closed during playback'));
    };
    const done = () => {
      session.off('agentFrame8k', check);
      session.off('closed', onClosed);
    };
    session.on('agentFrame8k', check);
    session.once('closed', onClosed);
  });
}
