// Decides whether this service can take traffic: its NATS connection and every database it owns must answer.
import { Injectable } from '@nestjs/common';
import { DatabaseHealth } from '@sovren/database';
import { NatsClient } from '@sovren/messaging';

export interface DependencyCheck {
  name: string;
  ok: boolean;
  error?: string;
}

export interface ReadinessReport {
  ready: boolean;
  checks: DependencyCheck[];
  failing: string[];
}

@Injectable()
export class ReadinessService {
  constructor(
    private readonly nats: NatsClient,
    private readonly databases: DatabaseHealth,
  ) {}

  async check(): Promise<ReadinessReport> {
    const natsCheck: DependencyCheck = this.nats.isConnected()
      ? { name: 'nats', ok: true }
      : { name: 'nats', ok: false, error: `NATS connection is ${this.nats.status()}` };
    const checks = [natsCheck, ...(await this.databases.check())];
    const failing = checks.filter((c) => !c.ok).map((c) => c.name);
    return { ready: failing.length === 0, checks, failing };
  }
}
