// A Nest logger (pass it to Logger.overrideLogger) that keeps every line, so tests can assert what was logged.
export interface LoggedLine {
  level: 'log' | 'warn' | 'error';
  message: unknown;
}

export class CollectingLogger {
  readonly lines: LoggedLine[] = [];
  log(message: unknown): void {
    this.lines.push({ level: 'log', message });
  }
  warn(message: unknown): void {
    this.lines.push({ level: 'warn', message });
  }
  error(message: unknown): void {
    this.lines.push({ level: 'error', message });
  }
  debug(): void {
    // not asserted by any test
  }
  verbose(): void {
    // not asserted by any test
  }
}
