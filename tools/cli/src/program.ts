// The `sovren` command line (commander): global options, the commands, and one place that turns every failure
// into a message on stderr (or a JSON error on stdout with --json) and an exit code (see cli-error.ts).
import { Command, CommanderError } from 'commander';

import { CliError, EXIT } from './cli-error';
import { registerKeys } from './commands/keys';
import { registerLogs } from './commands/logs';
import { registerModels } from './commands/models';
import { registerStatus } from './commands/status';
import { registerUsers } from './commands/users';

export function buildProgram(): Command {
  const program = new Command()
    .name('sovren')
    .description(
      'Operate a SOVREN platform on this machine: status, API keys, users, models, logs.\n' +
        'Needs local access: read access to <root>/nats-credentials/cli.env (root or the sovren user).',
    )
    .option('--json', 'machine-readable JSON output')
    .option('--root <dir>', 'the data root (default: $SOVREN_ROOT, ./.sovren of a checkout, /data/sovren)')
    .option('--nats <url>', 'NATS URL (default: $SOVREN_NATS_URL, the running dev platform, nats://127.0.0.1:4222)')
    .option('--credentials <file>', "the CLI's NATS credentials (default <root>/nats-credentials/cli.env)")
    .option('--timeout <ms>', 'how long to wait for an answer')
    .showHelpAfterError('(sovren --help lists the commands)')
    .addHelpText(
      'after',
      '\nExit codes: 0 done, 1 refused or failed, 2 usage error, 3 platform not running, 4 no local access.',
    );
  registerStatus(program);
  registerKeys(program);
  registerUsers(program);
  registerModels(program);
  registerLogs(program);
  // Every command, however deep, reports usage errors through exitOverride instead of exiting on its own.
  const override = (command: Command): void => {
    command.exitOverride();
    command.commands.forEach(override);
  };
  override(program);
  return program;
}

/** Runs the CLI; resolves to the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through here too, with exit code 0; commander already printed them.
      return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    const failure =
      error instanceof CliError
        ? error
        : new CliError(`unexpected failure: ${(error as Error).stack ?? String(error)}`);
    if (json) {
      process.stdout.write(
        `${JSON.stringify({ error: { code: failure.code ?? 'FAILED', message: failure.message } }, null, 2)}\n`,
      );
    }
    process.stderr.write(`sovren: ${failure.message}\n`);
    return failure.exitCode;
  }
}
