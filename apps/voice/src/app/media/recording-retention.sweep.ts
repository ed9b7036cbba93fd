// Runs the recording retention sweep once at start and then daily (SOVREN_VOICE_RECORDING_RETENTION_DAYS).
import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { errorMessage } from '@sovren/resilience';

import { RecordingStore } from './recording-store';

const DAY_MS = 86_400_000;

@Injectable()
export class RecordingRetentionSweep implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(RecordingRetentionSweep.name);
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly recordings: RecordingStore) {}

  onApplicationBootstrap(): void {
    this.running = this.runOnce();
    this.timer = setInterval(() => {
      this.running ??= this.runOnce();
    }, DAY_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  private async runOnce(): Promise<void> {
    try {
      const deleted = await this.recordings.sweep();
      if (deleted > 0) this.logger.log({ msg: 'deleted recordings past retention', recordings: deleted });
    } catch (error: unknown) {
      this.logger.error({ msg: 'recording retention sweep failed', err: errorMessage(error) });
    } finally {
      this.running = null;
    }
  }
}
