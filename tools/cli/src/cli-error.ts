// The CLI's failures: each one a message for the operator and the exit code scripts can test.

export const EXIT = {
  OK: 0,
  /** The platform answered and refused or failed the operation (bad input, unknown user, load failed...). */
  FAILED: 1,
  /** The command line is wrong (unknown command or option, missing argument). */
  USAGE: 2,
  /** The platform (NATS, or the service that answers the command) is not running. */
  NOT_RUNNING: 3,
  /** This account has no local access: it cannot read the CLI's NATS credentials. */
  NO_ACCESS: 4,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.FAILED,
    /** The platform's error code, when it sent one (shown in --json output). */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
