// The Nest application logger of every SOVREN service: one JSON object per line on stdout (journald keeps it),
// carrying the service, the Nest context and the current request id. Classes keep using `new Logger(X.name)`.
import { LoggerService, LogLevel as NestLogLevel } from '@nestjs/common';
import { LogLevel } from '@sovren/config';
import { errorMessage } from '@sovren/resilience';

import { currentRequestId } from './request-context';

export type LogLineLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';
export type LogSink = (line: string) => void;

const RANK: Record<LogLineLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, fatal: 50 };
const RESERVED_FIELDS = new Set(['time', 'level', 'service', 'context', 'msg', 'request_id', 'err']);
const STACK_FORMAT = /^(.)+\n\s+at .+:\d+:\d+/;

export interface SerializedError {
  name?: string;
  message?: string;
  stack?: string;
  code?: unknown;
  cause?: SerializedError | string;
}

const writeToStdout: LogSink = (line) => {
  process.stdout.write(line);
};

export class JsonLogger implements LoggerService {
  private threshold: number;

  /**
   * @param service the process's service name, on every line
   * @param level the lowest level written (from PlatformConfig.logLevel)
   * @param sink where lines go; stdout unless a test collects them
   */
  constructor(
    private readonly service: string,
    level: LogLevel = 'info',
    private readonly sink: LogSink = writeToStdout,
  ) {
    this.threshold = RANK[level];
  }

  log(message: unknown, ...optionalParams: unknown[]): void {
    this.write('info', message, optionalParams);
  }

  warn(message: unknown, ...optionalParams: unknown[]): void {
    this.write('warn', message, optionalParams);
  }

  debug(message: unknown, ...optionalParams: unknown[]): void {
    this.write('debug', message, optionalParams);
  }

  verbose(message: unknown, ...optionalParams: unknown[]): void {
    this.write('debug', message, optionalParams);
  }

  error(message: unknown, ...optionalParams: unknown[]): void {
    this.write('error', message, optionalParams, true);
  }

  fatal(message: unknown, ...optionalParams: unknown[]): void {
    this.write('fatal', message, optionalParams, true);
  }

  /** Nest calls this for `logger: [...]` options; the lowest level named becomes the threshold. */
  setLogLevels(levels: NestLogLevel[]): void {
    const ranks = levels.map((level) => RANK[fromNestLevel(level)]);
    this.threshold = ranks.length > 0 ? Math.min(...ranks) : RANK.fatal + 1;
  }

  isLevelEnabled(level: LogLineLevel): boolean {
    return RANK[level] >= this.threshold;
  }

  private write(level: LogLineLevel, message: unknown, params: unknown[], mayCarryStack = false): void {
    if (!this.isLevelEnabled(level)) return;
    const { context, stack, rest } = splitNestParams(params, mayCarryStack);
    const { msg, fields, err } = describeMessage(message);
    const line: Record<string, unknown> = {
      time: new Date().toISOString(),
      level,
      service: this.service,
      context: context ?? 'app',
      msg,
    };
    const requestId = currentRequestId();
    if (requestId !== undefined) line['request_id'] = requestId;
    const error = stack !== undefined ? { ...err, stack } : err;
    if (error !== undefined) line['err'] = error;
    for (const [key, value] of Object.entries(fields)) {
      // Outside the request's async context (e.g. a response 'finish' event) the caller names the request itself.
      if (key === 'request_id' && line['request_id'] === undefined && typeof value === 'string') {
        line['request_id'] = value;
        continue;
      }
      // A caller's field never overwrites a core field; it is kept under a prefixed name instead.
      line[RESERVED_FIELDS.has(key) ? `field_${key}` : key] = value;
    }
    if (rest.length > 0) line['args'] = rest;
    this.sink(`${stringify(line)}\n`);
  }
}

function fromNestLevel(level: NestLogLevel): LogLineLevel {
  switch (level) {
    case 'verbose':
    case 'debug':
      return 'debug';
    case 'log':
      return 'info';
    case 'warn':
    case 'error':
    case 'fatal':
      return level;
  }
}

// Same conventions as Nest's ConsoleLogger: a trailing string is the context; for errors, a string that looks
// like a stack (or the first of two strings) is the stack.
function splitNestParams(
  params: unknown[],
  mayCarryStack: boolean,
): { context?: string; stack?: string; rest: unknown[] } {
  const rest = [...params];
  let context: string | undefined;
  let stack: string | undefined;
  if (mayCarryStack && rest.length === 2 && (typeof rest[0] === 'string' || rest[0] === undefined)) {
    stack = rest[0] as string | undefined;
    context = typeof rest[1] === 'string' ? rest[1] : undefined;
    return { context, stack, rest: typeof rest[1] === 'string' ? [] : [rest[1]] };
  }
  const last = rest[rest.length - 1];
  if (typeof last === 'string') {
    if (mayCarryStack && STACK_FORMAT.test(last)) stack = last;
    else context = last;
    rest.pop();
  }
  return { context, stack, rest };
}

function describeMessage(message: unknown): { msg: string; fields: Record<string, unknown>; err?: SerializedError } {
  if (typeof message === 'string') return { msg: message, fields: {} };
  if (isError(message)) return { msg: message.message, fields: {}, err: serializeError(message) };
  if (typeof message === 'object' && message !== null && !Array.isArray(message)) {
    const { msg, message: text, err, ...fields } = message as Record<string, unknown>;
    const described = typeof msg === 'string' ? msg : typeof text === 'string' ? text : '';
    if (isError(err)) return { msg: described, fields, err: serializeError(err) };
    return { msg: described, fields: err === undefined ? fields : { ...fields, err } };
  }
  return { msg: String(message), fields: {} };
}

// Errors raised by Node internals (fetch) can come from another realm under Jest, where instanceof fails.
function isError(value: unknown): value is Error {
  return value instanceof Error || Object.prototype.toString.call(value) === '[object Error]';
}

export function serializeError(error: Error, depth = 0): SerializedError {
  const serialized: SerializedError = { name: error.name, message: error.message, stack: error.stack };
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) serialized.code = code;
  const cause: unknown = error.cause;
  if (isError(cause) && depth < 3) serialized.cause = serializeError(cause, depth + 1);
  else if (cause !== undefined) serialized.cause = String(cause);
  return serialized;
}

function stringify(line: Record<string, unknown>): string {
  try {
    return JSON.stringify(line, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  } catch (error) {
    // A circular field must not lose the line: keep the core fields and say what was dropped.
    return JSON.stringify({
      time: line['time'],
      level: line['level'],
      service: line['service'],
      context: line['context'],
      msg: line['msg'],
      request_id: line['request_id'],
      log_error: `fields dropped: ${errorMessage(error)}`,
    });
  }
}
