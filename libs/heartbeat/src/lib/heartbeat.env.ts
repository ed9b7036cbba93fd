// The heartbeat's own environment variable, validated like every other SOVREN variable.
import { IsIntegerInRange, ToInteger } from '@sovren/config';

export class HeartbeatEnv {
  /** Seconds between two heartbeats; monitoring marks an instance down after three missed ones. */
  @ToInteger()
  @IsIntegerInRange(1, 300, { message: 'must be an integer 1-300 (seconds)' })
  SOVREN_HEARTBEAT_INTERVAL_SECONDS = 5;
}
