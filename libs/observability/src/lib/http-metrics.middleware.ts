// Records sovren_http_request_duration_seconds and writes one access-log line for every HTTP request, including
// errors, 404s and requests a guard rejects: a middleware sees them all, where an interceptor would miss those
// that never reach a handler. Probe and scrape routes log at debug so they do not drown the log.
import { Injectable, Logger, NestMiddleware } from '@nestjs/common';
import { IncomingMessage, ServerResponse } from 'node:http';

import { MetricsService } from './metrics.service';

/** Express adds these to the request once a route matches. */
type RoutedRequest = IncomingMessage & { route?: { path?: unknown }; baseUrl?: string };

export const UNMATCHED_ROUTE = 'unmatched';

/** The route pattern (`/users/:id`), never the raw URL, so the label's cardinality stays bounded. */
export function routePattern(req: RoutedRequest, ownRoute?: unknown): string {
  // Nest mounts this middleware as a catch-all route of its own; still seeing that one means no handler matched.
  if (req.route === undefined || req.route === ownRoute) return UNMATCHED_ROUTE;
  const path = req.route.path;
  return typeof path === 'string' ? `${req.baseUrl ?? ''}${path}` || '/' : UNMATCHED_ROUTE;
}

const QUIET_ROUTES = new Set(['/health/live', '/health/ready', '/metrics']);

@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  private readonly logger = new Logger('HttpAccess');

  constructor(private readonly metrics: MetricsService) {}

  use(req: RoutedRequest, res: ServerResponse, next: () => void): void {
    const stopTimer = this.metrics.httpRequestDuration.startTimer();
    const ownRoute = req.route;
    let recorded = false;
    const record = (status: string): void => {
      if (recorded) return;
      recorded = true;
      const route = routePattern(req, ownRoute);
      const seconds = stopTimer({ method: req.method ?? 'UNKNOWN', route, status });
      const line = {
        msg: 'http request',
        method: req.method,
        route,
        status,
        duration_ms: Math.round(seconds * 1000 * 10) / 10,
        // Read from the response: 'finish' may fire outside the request's async context.
        request_id: res.getHeader('x-request-id'),
      };
      if (QUIET_ROUTES.has(route)) this.logger.debug(line);
      else this.logger.log(line);
    };
    res.once('finish', () => record(String(res.statusCode)));
    // The client went away before the response was complete: still count it, under its own status.
    res.once('close', () => record(res.writableFinished ? String(res.statusCode) : 'aborted'));
    next();
  }
}
