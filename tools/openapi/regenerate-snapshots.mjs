#!/usr/bin/env node
// Regenerates the committed OpenAPI documents docs/api/<service>.json: runs each service's OpenAPI spec
// (apps/<service>/src/app/__tests__/openapi.spec.ts, which builds the app in Nest's preview mode, so neither NATS
// nor PostgreSQL is needed) with SOVREN_OPENAPI_UPDATE=1, which writes the snapshot instead of comparing with it.
// The same specs fail in `npm test` when a snapshot is stale. Run: npx nx run tools:openapi
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const services = readdirSync(join(root, 'apps')).filter((app) =>
  existsSync(join(root, 'apps', app, 'src', 'app', '__tests__', 'openapi.spec.ts')),
);
if (services.length === 0) {
  process.stderr.write('no apps/<service>/src/app/__tests__/openapi.spec.ts found\n');
  process.exit(1);
}
for (const service of services) {
  process.stdout.write(`== docs/api/${service}.json\n`);
  const result = spawnSync(
    'npx',
    ['jest', '-c', `apps/${service}/jest.config.ts`, `apps/${service}/src/app/__tests__/openapi.spec.ts`],
    { cwd: root, stdio: 'inherit', env: { ...process.env, SOVREN_OPENAPI_UPDATE: '1' } },
  );
  if (result.status !== 0) {
    process.stderr.write(`the OpenAPI spec of ${service} failed; docs/api/${service}.json may not be current\n`);
    process.exit(1);
  }
}
process.stdout.write(`regenerated ${services.map((s) => `docs/api/${s}.json`).join(', ')}\n`);
