// A private nats-server on a free loopback port, owned by one test file: stop and restart it to test outages, or
// keep request/reply subjects of parallel suites apart. TEST_NATS_URL is the shared server of the test command.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { eventually, StopWaiting } from './eventually';
import { freePort } from './free-port';

export const TEST_NATS_URL = process.env['SOVREN_TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';
const NATS_SERVER_BINARY = process.env['SOVREN_NATS_SERVER_BIN'] ?? 'nats-server';

/** The platform's nats-server message limit (tools/nats/nats-server-config.mjs NATS_MAX_PAYLOAD), for servers
 * started without a configuration file. */
const MAX_PAYLOAD = '2MB';

export interface NatsTestServerOptions {
  /** A fixed port (e.g. to restart on the same address); a free one otherwise. */
  port?: number;
  /** Enable JetStream with a temporary store directory. */
  jetstream?: boolean;
  /** A nats-server configuration file (e.g. users and permissions from tools/nats); host and port still apply. */
  configFile?: string;
}

export class NatsTestServer {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly storeDir: string | undefined,
    private readonly configFile: string | undefined,
  ) {}

  static async start(options: NatsTestServerOptions = {}): Promise<NatsTestServer> {
    const dir = mkdtempSync(join(tmpdir(), 'sovren-test-nats-'));
    const storeDir = options.jetstream ? join(dir, 'jetstream') : undefined;
    let configFile = options.configFile;
    if (!configFile) {
      // Like the platform's generated configuration: messages up to 2 MB (a 30 s utterance to transcribe).
      configFile = join(dir, 'nats-server.conf');
      writeFileSync(configFile, `max_payload: ${MAX_PAYLOAD}\n`);
    }
    const server = new NatsTestServer(options.port ?? (await freePort()), dir, storeDir, configFile);
    await server.restart();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** (Re)starts the server on the same port and store; resolves once it accepts connections. */
  async restart(): Promise<void> {
    if (this.child) throw new Error(`nats-server on port ${this.port} is already running`);
    const args = [...(this.configFile ? ['-c', this.configFile] : []), '-a', '127.0.0.1', '-p', String(this.port)];
    if (this.storeDir) args.push('-js', '-sd', this.storeDir);
    const child = spawn(NATS_SERVER_BINARY, args, { stdio: 'ignore' });
    this.child = child;
    let failure: Error | undefined;
    child.once('error', (error) => {
      failure = new Error(`could not start ${NATS_SERVER_BINARY}: ${error.message}`);
    });
    try {
      await eventually(
        `${NATS_SERVER_BINARY} to listen on port ${this.port}`,
        async () => {
          if (failure) throw new StopWaiting(failure.message);
          return accepts(this.port);
        },
        { timeoutMs: 10_000, intervalMs: 50 },
      );
    } catch (error) {
      // A server that never started has nothing to stop.
      if (failure) this.child = undefined;
      else await this.stop();
      throw error;
    }
  }

  /** Stops the server (SIGTERM, waits for exit); the store survives for restart(). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  }

  /** Stops the server and removes its JetStream store and configuration. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
    socket.connect(port, '127.0.0.1');
  });
}
