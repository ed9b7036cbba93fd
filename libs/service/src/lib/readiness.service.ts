// Decides whether this service can take traffic: its NATS connection and every database it owns must answer, and
// every check a feature added (e.g. billing while Kill Bill refuses its credentials).
import { Injectable } from '@nestjs/common';
import { DatabaseHealth } from '@sovren/database';
import { NatsClient } from '@sovren/messaging';
import { errorMessage } from '@sovren/resilience';

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

/** A feature's own readiness condition: `ok: false` with an error naming the problem makes the service degraded. */
export type ReadinessProbe = () => Omit<DependencyCheck, 'name'>;

@Injectable()
export class ReadinessService {
  private readonly probes = new Map<string, ReadinessProbe>();

  constructor(
    private readonly nats: NatsClient,
    private readonly databases: DatabaseHealth,
  ) {}

  /**
   * Adds a named condition to readiness (and so to the heartbeat: a failing one makes the service degraded and
   * raises monitoring's ReadinessFailing alert). A name can be added once.
   */
  addCheck(name: string, probe: ReadinessProbe): void {
    if (this.probes.has(name)) throw new Error(`readiness check "${name}" is already registered`);
    this.probes.set(name, probe);
  }

  async check(): Promise<ReadinessReport> {
    const natsCheck: DependencyCheck = this.nats.isConnected()
      ? { name: 'nats', ok: true }
      : { name: 'nats', ok: false, error: `NATS connection is ${this.nats.status()}` };
    const checks = [
      natsCheck,
      ...(await this.databases.check()),
      ...[...this.probes].map(([name, probe]) => runProbe(name, probe)),
    ];
    const failing = checks.filter((c) => !c.ok).map((c) => c.name);
    return { ready: failing.length === 0, checks, failing };
  }
}

function runProbe(name: string, probe: ReadinessProbe): DependencyCheck {
  try {
    return { name, ...probe() };
  } catch (error) {
    return { name, ok: false, error: `readiness check failed: ${errorMessage(error)}` };
  }
}
