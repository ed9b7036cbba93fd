import { Logger } from '@nestjs/common';

import { JsonLogger } from '../json.logger';
import { runWithRequestId } from '../request-context';

function collectingLogger(level: 'debug' | 'info' | 'warn' | 'error' = 'debug') {
  const lines: string[] = [];
  const logger = new JsonLogger('auth', level, (line) => lines.push(line));
  const parsed = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, parsed };
}

describe('JsonLogger', () => {
  it('writes one JSON object per line with time, level, service, context and msg', () => {
    const { logger, lines, parsed } = collectingLogger();

    logger.log('listening on 127.0.0.1:3101', 'Bootstrap');

    expect(lines).toHaveLength(1);
    expect(lines[0].endsWith('\n')).toBe(true);
    expect(lines[0].slice(0, -1)).not.toContain('\n');
    const [line] = parsed();
    expect(line).toEqual({
      time: expect.any(String),
      level: 'info',
      service: 'auth',
      context: 'Bootstrap',
      msg: 'listening on 127.0.0.1:3101',
    });
    expect(new Date(line['time'] as string).toISOString()).toBe(line['time']);
  });

  it('adds the request id of the current request context', async () => {
    const { logger, parsed } = collectingLogger();

    await runWithRequestId('req-42', async () => {
      await new Promise((resolve) => setImmediate(resolve));
      logger.warn('slow query', 'UsersRepository');
    });
    logger.warn('outside any request');

    expect(parsed()[0]['request_id']).toBe('req-42');
    expect(parsed()[1]).not.toHaveProperty('request_id');
  });

  it('spreads the fields of an object message, keeping core fields intact', () => {
    const { logger, parsed } = collectingLogger();

    logger.log({ msg: 'egress refused', host: 'example.org', level: 'sneaky' }, 'EgressClient');

    expect(parsed()[0]).toMatchObject({
      level: 'info',
      msg: 'egress refused',
      host: 'example.org',
      field_level: 'sneaky',
      context: 'EgressClient',
    });
  });

  it('includes the error message and stack for errors, however Nest passes them', () => {
    const { logger, parsed } = collectingLogger();
    const failure = new Error('disk full', { cause: new Error('ENOSPC') });

    logger.error(failure, 'Writer');
    logger.error('could not write', failure.stack, 'Writer');
    logger.error({ msg: 'could not write', err: failure, path: '/data/x' });

    const [fromError, fromStack, fromObject] = parsed();
    expect(fromError).toMatchObject({ level: 'error', context: 'Writer', msg: 'disk full' });
    expect(fromError['err']).toMatchObject({ name: 'Error', message: 'disk full', cause: { message: 'ENOSPC' } });
    expect((fromError['err'] as { stack: string }).stack).toContain('json.logger.spec.ts');
    expect(fromStack).toMatchObject({ msg: 'could not write', context: 'Writer', err: { stack: failure.stack } });
    expect(fromObject).toMatchObject({ msg: 'could not write', path: '/data/x', err: { message: 'disk full' } });
  });

  it('drops lines below the configured level', () => {
    const { logger, parsed } = collectingLogger('warn');

    logger.debug('noise');
    logger.verbose('more noise');
    logger.log('info');
    logger.warn('careful');
    logger.error('broken');
    logger.fatal('dead');

    expect(parsed().map((line) => line['level'])).toEqual(['warn', 'error', 'fatal']);
  });

  it('never throws on an unserialisable field', () => {
    const { logger, parsed } = collectingLogger();
    const circular: Record<string, unknown> = {};
    circular['self'] = circular;

    logger.log({ msg: 'odd payload', payload: circular, big: 10n });

    expect(parsed()[0]).toMatchObject({ msg: 'odd payload', log_error: expect.stringContaining('fields dropped') });
  });

  it("receives Nest's standard Logger calls once installed as the app logger", () => {
    const { logger, parsed } = collectingLogger();
    Logger.overrideLogger(logger);
    try {
      new Logger('HealthController').log('ready');
    } finally {
      Logger.overrideLogger(true);
    }

    expect(parsed()).toEqual([expect.objectContaining({ context: 'HealthController', msg: 'ready' })]);
  });
});
