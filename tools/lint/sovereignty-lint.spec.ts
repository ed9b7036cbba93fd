// Specifies the sovereignty lint by running its CLI on planted files in throwaway directories and on the real tree.
// Forbidden strings are assembled at run time so that this spec file itself stays clean for the lint.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const repoRoot = resolve(__dirname, '..', '..');
const lintScript = join(repoRoot, 'tools', 'lint', 'sovereignty-lint.mjs');
const dot = (...parts: string[]): string => parts.join('.');

interface LintRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

function runLint(root: string): LintRun {
  const result = spawnSync(process.execPath, [lintScript, root], { encoding: 'utf8' });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('sovereignty lint', () => {
  let workDir: string;

  beforeEach(() => {
    // Not a git work tree, so this also exercises the directory-walk fallback.
    workDir = mkdtempSync(join(tmpdir(), 'sovereignty-lint-'));
  });

  afterEach(() => {
    rmSync(workDir, { recursive: true, force: true });
  });

  function plant(relativePath: string, content: string): void {
    const absolute = join(workDir, relativePath);
    mkdirSync(dirname(absolute), { recursive: true });
    writeFileSync(absolute, content);
  }

  it('fails with file:line:col on a planted LLM API host', () => {
    plant('src/clean.ts', 'export const ok = 1;\n');
    plant('src/client.ts', `// talks to the outside\nconst url = 'https://${dot('api', 'openai', 'com')}/v1/chat';\n`);
    const run = runLint(workDir);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain(`src/client.ts:2:22  forbidden-host/llm-api  ${dot('api', 'openai', 'com')}`);
    expect(run.stdout).not.toContain('clean.ts');
  });

  it.each([
    ['cloud', `s3.${dot('us-east-1', 'amazonaws', 'com')}`, 'forbidden-host/cloud-api'],
    ['telephony', dot('api', 'twilio', 'com'), 'forbidden-host/telephony-api'],
    ['email', dot('api', 'sendgrid', 'com'), 'forbidden-host/email-api'],
    ['payment', dot('api', 'stripe', 'com'), 'forbidden-host/payment-api'],
    ['telemetry', dot('o123', 'ingest', 'sentry', 'io'), 'forbidden-host/analytics-saas'],
    ['enrichment', dot('person', 'clearbit', 'com'), 'forbidden-host/data-enrichment'],
    ['GCP', dot('storage', 'googleapis', 'com'), 'forbidden-host/cloud-api'],
  ])('fails on a %s API host', (_kind, host, rule) => {
    plant('config.yaml', `endpoint: https://${host}/x\n`);
    const run = runLint(workDir);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain(`config.yaml:1:19  ${rule}  ${host}`);
  });

  it('fails on a forbidden SDK import, require and dynamic import', () => {
    plant(
      'src/sdk.ts',
      [
        `import OpenAI from '${'open' + 'ai'}';`,
        `const s3 = require('${'@aws-sdk' + '/client-s3'}');`,
        `const tw = await import('${'twil' + 'io'}');`,
        `import { Msal } from '@azure/msal-node';`,
      ].join('\n'),
    );
    const run = runLint(workDir);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('src/sdk.ts:1:21  forbidden-sdk/llm-api');
    expect(run.stdout).toContain('src/sdk.ts:2:21  forbidden-sdk/cloud-api');
    expect(run.stdout).toContain('src/sdk.ts:3:26  forbidden-sdk/telephony-api');
    // Microsoft's OAuth library is how the auth service logs users in: allowed.
    expect(run.stdout).not.toContain('src/sdk.ts:4');
  });

  it('fails when a forbidden SDK is a dependency in package.json or the lockfile', () => {
    const stripeSdk = 'str' + 'ipe';
    plant('package.json', JSON.stringify({ name: 'x', dependencies: { [stripeSdk]: '1.0.0', pg: '8.0.0' } }, null, 2));
    plant(
      'package-lock.json',
      JSON.stringify({ packages: { 'node_modules/pg': {}, [`node_modules/${'@sentry' + '/node'}`]: {} } }, null, 2),
    );
    const run = runLint(workDir);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/package\.json:4:\d+ {2}forbidden-sdk\/payment-api\/dependency {2}stripe/);
    expect(run.stdout).toMatch(
      /package-lock\.json:\d+:\d+ {2}forbidden-sdk\/analytics-saas\/dependency {2}@sentry\/node/,
    );
  });

  it('allows a test-client SDK only as a devDependency imported from test files', () => {
    const sdk = 'open' + 'ai';
    plant('package.json', JSON.stringify({ name: 'x', devDependencies: { [sdk]: '6.0.0' } }, null, 2));
    plant(
      'package-lock.json',
      JSON.stringify({ packages: { [`node_modules/${sdk}`]: { version: '6.0.0', dev: true } } }, null, 2),
    );
    plant('apps/x/src/__tests__/api.spec.ts', `import OpenAI from '${sdk}';\n`);
    plant('apps/x-e2e/src/first-minute.ts', `import OpenAI from '${sdk}';\n`);
    expect(runLint(workDir).status).toBe(0);

    plant('apps/x/src/app/client.ts', `import OpenAI from '${sdk}';\n`);
    plant('libs/y/package.json', JSON.stringify({ name: 'y', dependencies: { [sdk]: '6.0.0' } }, null, 2));
    plant(
      'libs/y/package-lock.json',
      JSON.stringify({ packages: { [`node_modules/${sdk}`]: { version: '6.0.0' } } }, null, 2),
    );
    const run = runLint(workDir);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/apps\/x\/src\/app\/client\.ts:1:\d+ {2}forbidden-sdk\/llm-api {2}openai/);
    expect(run.stdout).toMatch(/libs\/y\/package\.json:4:\d+ {2}forbidden-sdk\/llm-api\/dependency {2}openai/);
    expect(run.stdout).toMatch(/libs\/y\/package-lock\.json:\d+:\d+ {2}forbidden-sdk\/llm-api\/dependency {2}openai/);
    expect(run.stdout).not.toMatch(/__tests__|x-e2e|^package\.json/m);
  });

  it('fails on an SMS route, subject and identifier', () => {
    plant(
      'apps/voice/src/messages.controller.ts',
      [
        `@Post('/api/v1/${'s' + 'ms'}')`,
        `async ${'sendS' + 'ms'}(body: unknown) {}`,
        `const subject = 'voice.${'s' + 'ms'}.send';`,
      ].join('\n'),
    );
    const run = runLint(workDir);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('apps/voice/src/messages.controller.ts:1:7  sms-feature/route-or-subject');
    expect(run.stdout).toContain('apps/voice/src/messages.controller.ts:2:7  sms-feature/identifier');
    expect(run.stdout).toContain('apps/voice/src/messages.controller.ts:3:17  sms-feature/route-or-subject');
  });

  it('does not trip on prose that says the platform has no SMS', () => {
    plant('README.md', 'Telephony is voice calls only, no SMS at all (no SMS/MMS, ever).\n');
    const run = runLint(workDir);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('passes the OAuth hosts that are on the egress allowlist', () => {
    plant(
      'libs/auth/google.ts',
      [
        `const token = 'https://${dot('oauth2', 'googleapis', 'com')}/token';`,
        `const discovery = 'https://${dot('openidconnect', 'googleapis', 'com')}/.well-known/openid-configuration';`,
        `const userinfo = 'https://${dot('www', 'googleapis', 'com')}/oauth2/v3/userinfo';`,
        `const allowlist = ['${dot('www', 'googleapis', 'com')}', 'login.microsoftonline.com', 'api.skyetel.com'];`,
      ].join('\n'),
    );
    const run = runLint(workDir);
    expect(run.stdout).toContain('no forbidden hosts');
    expect(run.status).toBe(0);
  });

  it('fails on a non-OAuth path of the Google APIs www host', () => {
    plant('drive.ts', `const u = 'https://${dot('www', 'googleapis', 'com')}/drive/v3/files';\n`);
    const run = runLint(workDir);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('drive.ts:1:20  forbidden-host/cloud-api');
  });

  it('honours a reasoned sovereignty-lint-allow comment on the same line only', () => {
    const host = dot('api', 'openai', 'com');
    plant(
      'egress.spec.ts',
      [
        `expect(() => client.get('https://${host}/')).toThrow(); // ${'sovereignty-lint-allow'}: proves the refusal`,
        `const bare = '${host}'; // ${'sovereignty-lint-allow'}:`,
        `const next = '${host}';`,
      ].join('\n'),
    );
    const run = runLint(workDir);
    expect(run.status).toBe(1);
    expect(run.stdout).not.toContain('egress.spec.ts:1:');
    // An allow comment without a reason does not count.
    expect(run.stdout).toContain('egress.spec.ts:2:');
    expect(run.stdout).toContain('egress.spec.ts:3:');
  });

  it('skips node_modules, dist and binary files', () => {
    const host = dot('api', 'anthropic', 'com');
    plant(`node_modules/x/index.js`, `fetch('https://${host}')`);
    plant(`dist/apps/x/main.js`, `fetch('https://${host}')`);
    plant('models/weights.bin', `\0\0${host}`);
    plant('data/blob.txt', `\0binary${host}`);
    const run = runLint(workDir);
    expect(run.stdout).toContain('no forbidden hosts');
    expect(run.status).toBe(0);
  });

  it('exits 2 with a clear message when the root is not a directory', () => {
    const run = runLint(join(workDir, 'missing'));
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('cannot read root directory');
  });

  it('passes on the real repository tree', () => {
    const run = runLint(repoRoot);
    expect(run.stdout + run.stderr).toContain('no forbidden hosts');
    expect(run.status).toBe(0);
  });
});
