// Starts one SOVREN service process: validate config first (one clear message and exit 1 when it is bad),
// JSON logs, the HTTP platform (envelope, errors, validation, request ids), the OpenAPI document and its UI
// (/api/docs, /api/docs-json), then listen. SIGTERM/SIGINT close
// the app in order — stop accepting HTTP and finish in-flight requests, then drain NATS and close databases —
// and a watchdog ends the process if that takes longer than SOVREN_SHUTDOWN_TIMEOUT_MS.
import { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigValidationError, loadPlatformConfig, PlatformConfig, ServiceName } from '@sovren/config';
import { applyHttpPlatform } from '@sovren/http';
import { JsonLogger } from '@sovren/observability';
import { errorMessageWithStack } from '@sovren/resilience';

import { setupOpenApi } from './openapi';

export async function bootstrapService(appModule: Type<unknown>, service: ServiceName): Promise<INestApplication> {
  const config = loadConfigOrExit(service);
  const logger = new JsonLogger(service, config.logLevel);

  process.on('unhandledRejection', (reason) => {
    logger.error({ msg: 'unhandled promise rejection', err: errorMessageWithStack(reason) }, undefined, 'Process');
  });

  const app = await NestFactory.create(appModule, { logger, bufferLogs: true });
  app.useLogger(logger);
  applyHttpPlatform(app);
  setupOpenApi(app, service, config.version);
  closeOnSignals(app, config, logger);

  await app.listen(config.ports[service], config.host);
  logger.log(
    { msg: `${service} listening`, url: `http://${config.host}:${config.ports[service]}`, version: config.version },
    'Bootstrap',
  );
  return app;
}

function loadConfigOrExit(service: ServiceName): PlatformConfig {
  try {
    return loadPlatformConfig();
  } catch (error) {
    if (error instanceof ConfigValidationError) {
      process.stderr.write(`${service}: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/**
 * SIGTERM/SIGINT: app.close() runs Nest's shutdown in order (HTTP server stops accepting and finishes in-flight
 * requests, then OnApplicationShutdown hooks drain NATS and close databases), then the process exits 0 — what
 * systemd expects of a clean stop. A watchdog exits 1 if that takes longer than the configured timeout.
 */
function closeOnSignals(app: INestApplication, config: PlatformConfig, logger: JsonLogger): void {
  let closing = false;
  const close = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    logger.log({ msg: 'shutting down', signal, timeout_ms: config.shutdownTimeoutMs }, 'Bootstrap');
    setTimeout(() => {
      logger.error(
        { msg: 'shutdown did not finish in time; exiting', timeout_ms: config.shutdownTimeoutMs },
        undefined,
        'Bootstrap',
      );
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    app.close().then(
      () => {
        logger.log({ msg: 'stopped cleanly', signal }, 'Bootstrap');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ msg: 'shutdown failed', err: errorMessageWithStack(error) }, undefined, 'Bootstrap');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', close);
  process.once('SIGINT', close);
}
