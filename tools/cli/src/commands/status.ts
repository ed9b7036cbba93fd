// sovren status: every service as monitoring sees it from heartbeats (up / degraded / down, since when, why).
import type { Command } from 'commander';
import { MONITORING_STATUS, parseMonitoringStatusReplyV1 } from '@sovren/messaging';

import { withPlatform } from '../command-context';
import { stateColour } from '../output';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show the platform status (each service up, degraded or down) from monitoring')
    .action(async (_options: unknown, command: Command) => {
      await withPlatform(command, async (client, output) => {
        const status = await client.request(MONITORING_STATUS, { v: 1 }, { parse: parseMonitoringStatusReplyV1 });
        output.result(status, () => {
          output.line(`platform: ${stateColour(output, status.state)(status.state)}  (checked ${status.checkedAt})`);
          output.line();
          output.table(
            ['SERVICE', 'STATE', 'INSTANCES', 'SINCE', 'LAST ERROR'],
            status.services.map((s) => [s.service, s.state, String(s.instances), s.since, s.lastError ?? '']),
            (column, cell) => (column === 1 ? stateColour(output, cell.trim())(cell) : cell),
          );
        });
        // A script can test the exit code: 0 only when everything is up.
        if (status.state !== 'up') process.exitCode = 1;
      });
    });
}
