#!/usr/bin/env node
// Writes the nats-server configuration (users and permissions from nats-permissions.mjs) and one credentials file
// per service (<dir>/<service>.env: SOVREN_NATS_USER / SOVREN_NATS_PASSWORD), all mode 0600. Existing credentials
// files are kept (running services keep working after a re-install) unless --rotate is given.
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { NATS_USERS } from './nats-permissions.mjs';
import { loadOrCreateCredentials, renderNatsServerConfig, writePrivateFile } from './nats-server-config.mjs';

const usage = `Usage: node tools/nats/generate-nats-config.mjs --config FILE --credentials-dir DIR
       [--host 127.0.0.1] [--port 4222] [--store-dir DIR] [--rotate]
--store-dir puts the JetStream store in the file; leave it out when nats-server gets -sd (it refuses both).`;

let args;
try {
  args = parseArgs({
    options: {
      config: { type: 'string' },
      'credentials-dir': { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '4222' },
      'store-dir': { type: 'string' },
      rotate: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  }).values;
} catch (error) {
  process.stderr.write(`generate-nats-config: ${error.message}\n${usage}\n`);
  process.exit(2);
}
if (args.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
const port = Number(args.port);
if (!args.config || !args['credentials-dir'] || !Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write(`generate-nats-config: --config, --credentials-dir and a port 1-65535 are required\n${usage}\n`);
  process.exit(2);
}

const dir = args['credentials-dir'];
const { credentials, written } = loadOrCreateCredentials(dir, { rotate: args.rotate });
for (const service of NATS_USERS) {
  const file = join(dir, `${service}.env`);
  process.stdout.write(`${written.includes(file) ? 'wrote' : 'kept'} ${file}\n`);
}
writePrivateFile(
  args.config,
  renderNatsServerConfig({ host: args.host, port, storeDir: args['store-dir'], credentials }),
);
process.stdout.write(`wrote ${args.config} (${NATS_USERS.length} users)\n`);
