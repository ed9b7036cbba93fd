// What every command gets: the global options, the output, and a connection to the platform opened for the
// command and closed after it.
import type { Command } from 'commander';

import { CliError, EXIT } from './cli-error';
import { OperatorClient } from './operator-client';
import { createOutput, type Output } from './output';
import { locatePlatform, type GlobalOptions } from './platform-locator';

export const DEFAULT_TIMEOUT_MS = 10_000;

export function globalsOf(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

export function outputOf(command: Command): Output {
  return createOutput(Boolean(globalsOf(command).json));
}

export function timeoutOf(options: GlobalOptions): number {
  if (options.timeout === undefined) return DEFAULT_TIMEOUT_MS;
  const value = Number(options.timeout);
  if (!Number.isInteger(value) || value < 1) {
    throw new CliError(`--timeout must be a positive number of milliseconds (got "${options.timeout}")`, EXIT.USAGE);
  }
  return value;
}

/** Runs `body` with a connection to the platform, closing it whatever happens. */
export async function withPlatform<T>(
  command: Command,
  body: (client: OperatorClient, output: Output) => Promise<T>,
): Promise<T> {
  const options = globalsOf(command);
  const location = locatePlatform(options);
  const client = await OperatorClient.connect(location, timeoutOf(options));
  try {
    return await body(client, outputOf(command));
  } finally {
    await client.close();
  }
}
