// Boots the five built services (dist/apps/<name>/main.js) as real processes with their own ports,
// a temporary SOVREN_ROOT, the test NATS server and a throwaway PostgreSQL database.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  createThrowawayDatabase,
  eventually,
  freePort,
  NatsTestServer,
  OwnedProcess,
  StopWaiting,
  type ThrowawayPostgres,
} from '@sovren/testing';

export const SERVICES = ['auth', 'billing', 'voice', 'inference', 'monitoring'] as const;
export type Service = (typeof SERVICES)[number];

const workspaceRoot = resolve(__dirname, '../../../..');

export interface RunningService {
  name: Service;
  port: number;
  baseUrl: string;
  process: OwnedProcess;
}

export interface PlatformOptions {
  /** Extra environment variables for every service (e.g. monitoring's SMTP settings). */
  env?: NodeJS.ProcessEnv;
  /** Runs on the fresh SOVREN_ROOT before any service starts (models to put in place, for instance). */
  prepareRoot?: (root: string) => Promise<void> | void;
}

export class Platform {
  readonly services = new Map<Service, RunningService>();
  /** The environment every service started with (ports included). */
  env: NodeJS.ProcessEnv = {};

  private constructor(
    readonly root: string,
    readonly nats: NatsTestServer,
    readonly database: ThrowawayPostgres,
  ) {}

  static async start(options: PlatformOptions = {}): Promise<Platform> {
    const root = mkdtempSync(join(tmpdir(), 'sovren-platform-'));
    const nats = await NatsTestServer.start({ jetstream: true });
    const database = await createThrowawayDatabase({ label: 'it' });
    const platform = new Platform(root, nats, database);
    try {
      await options.prepareRoot?.(root);
      const ports = new Map<Service, number>();
      for (const name of SERVICES) ports.set(name, await freePort());
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        NODE_ENV: 'test',
        SOVREN_ROOT: root,
        SOVREN_NATS_URL: nats.url,
        SOVREN_DATABASE_URL: database.url,
        SOVREN_LOG_LEVEL: 'info',
        SOVREN_SHUTDOWN_TIMEOUT_MS: '8000',
        // Billing needs Kill Bill credentials to start; no Kill Bill runs here, so usage simply waits in JetStream.
        SOVREN_KILLBILL_API_SECRET: 'platform-e2e-secret',
        SOVREN_KILLBILL_PASSWORD: 'platform-e2e-password',
        ...options.env,
      };
      platform.env = env;
      for (const name of SERVICES) env[`SOVREN_${name.toUpperCase()}_PORT`] = String(ports.get(name));
      // Voice's SIP endpoint defaults to 0.0.0.0:5060, which a running platform (or another run) may hold.
      env['SOVREN_VOICE_SIP_PORT'] ??= String(await freePort());
      env['SOVREN_VOICE_SIP_BIND'] ??= '127.0.0.1';
      for (const name of SERVICES) {
        const main = join(workspaceRoot, 'dist/apps', name, 'main.js');
        if (!existsSync(main)) throw new Error(`${main} is missing: build the apps first (npx nx run-many -t build)`);
        const port = ports.get(name)!;
        platform.services.set(name, {
          name,
          port,
          baseUrl: `http://127.0.0.1:${port}`,
          process: new OwnedProcess(name, process.execPath, [main], env),
        });
      }
      await platform.waitUntil(200, 60_000);
    } catch (error) {
      // A service that does not come up must not leave the others (and NATS) running: Jest would never exit.
      await platform.stop().catch((stopError: Error) => {
        process.stderr.write(`platform-e2e: stopping after a failed start: ${stopError.message}\n`);
      });
      throw error;
    }
    return platform;
  }

  /** Starts `name` again (same port and environment) after its process ended; resolves once it is ready. */
  async restart(name: Service): Promise<void> {
    const s = this.service(name);
    if (s.process.running) throw new Error(`${name} is still running; stop or kill it first`);
    const main = join(workspaceRoot, 'dist/apps', name, 'main.js');
    s.process = new OwnedProcess(name, process.execPath, [main], this.env);
    await eventually(
      `${name} to be ready after restart`,
      async () => {
        if (!s.process.running)
          throw new StopWaiting(`${name} exited on restart (${JSON.stringify(s.process.exit)})\n${s.process.tail()}`);
        return (await fetch(`${s.baseUrl}/health/ready`)).status === 200;
      },
      { timeoutMs: 60_000, intervalMs: 250, detail: () => s.process.tail() },
    );
  }

  service(name: Service): RunningService {
    const s = this.services.get(name);
    if (!s) throw new Error(`unknown service ${name}`);
    return s;
  }

  /** Waits until every service's /health/ready answers `status`. */
  async waitUntil(status: number, timeoutMs: number): Promise<void> {
    const pending = new Set(this.services.keys());
    await eventually(
      `every service's /health/ready to answer ${status}`,
      async () => {
        for (const name of [...pending]) {
          const s = this.service(name);
          if (!s.process.running)
            throw new StopWaiting(`${name} exited (${JSON.stringify(s.process.exit)})\n${s.process.tail()}`);
          const got = await fetch(`${s.baseUrl}/health/ready`).then(
            (r) => r.status,
            () => 0,
          );
          if (got === status) pending.delete(name);
        }
        return pending.size === 0;
      },
      {
        timeoutMs,
        intervalMs: 250,
        detail: () =>
          `still not at ${status}: ${[...pending].join(', ')}\n${[...pending].map((n) => this.service(n).process.tail()).join('\n')}`,
      },
    );
  }

  async stop(): Promise<void> {
    const failures: string[] = [];
    await Promise.all(
      [...this.services.values()].map(async (s) => {
        const result = await s.process.stop();
        if (result.forced) failures.push(`${s.name} had to be killed`);
      }),
    );
    await this.nats.dispose();
    await this.database.drop().catch((error: Error) => failures.push(`dropping the test database: ${error.message}`));
    rmSync(this.root, { recursive: true, force: true });
    if (failures.length > 0) throw new Error(failures.join('; '));
  }
}
