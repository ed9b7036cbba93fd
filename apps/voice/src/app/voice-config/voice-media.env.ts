// The voice service's media settings (recordings), validated at start-up like the rest of its environment.
import { IsIntegerInRange, ToInteger } from '@sovren/config';

export class VoiceMediaEnv {
  /** Call recordings are deleted this many days after the call started (a daily sweep). */
  @ToInteger()
  @IsIntegerInRange(1, 3650)
  SOVREN_VOICE_RECORDING_RETENTION_DAYS = 90;
}

export const VOICE_MEDIA_ENV = Symbol('VOICE_MEDIA_ENV');
