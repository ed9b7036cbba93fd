// Starts a Nest application for a test the way main.ts runs it in production: the app's real module, the
// platform's HTTP conventions (applyHttpPlatform), listening on 127.0.0.1. The configuration loaders read
// process.env, so `env` is applied to it first.
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { applyHttpPlatform } from '@sovren/http';

export interface RunningNestApp {
  app: INestApplication;
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface NestTestAppOptions {
  /** Applied to process.env before the module is compiled. */
  env?: Record<string, string>;
  /** A fixed port (when another setting must name it before start); default any free one. */
  port?: number;
  /** Runs once the app listens, before it is handed over (e.g. flushing its NATS subscriptions). */
  ready?: (app: INestApplication) => Promise<unknown> | unknown;
}

export async function startNestApp(moduleClass: unknown, options: NestTestAppOptions = {}): Promise<RunningNestApp> {
  if (options.env) Object.assign(process.env, options.env);
  const moduleRef = await Test.createTestingModule({ imports: [moduleClass as never] }).compile();
  const app = moduleRef.createNestApplication({ logger: ['error'] });
  applyHttpPlatform(app);
  await app.listen(options.port ?? 0, '127.0.0.1');
  try {
    await options.ready?.(app);
  } catch (error) {
    await app.close();
    throw error;
  }
  const { port } = app.getHttpServer().address() as { port: number };
  return { app, url: `http://127.0.0.1:${port}`, port, close: () => app.close() };
}
