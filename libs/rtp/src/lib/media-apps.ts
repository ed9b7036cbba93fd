// Media applications until the speech loop exists (issue 16 item 7): echo, play a WAV prompt.
import type { RtpSession } from './rtp-session';

/** Sends the caller's audio straight back; returns the function that stops it. */
export function startEcho(session: RtpSession): () => void {
  void session;
  throw new Error('startEcho: implementation follows');
}

/** Plays a PCM WAV file (any rate, mono or stereo) and resolves once it has been sent. */
export async function playWav(session: RtpSession, wavPath: string): Promise<void> {
  void session;
  void wavPath;
  throw new Error('playWav: implementation follows');
}
