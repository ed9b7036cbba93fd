// The first minute in development: a model to call and a key to call it with, without any OAuth provider.
// - ensureDemoModel: when <root>/models/llms holds no GGUF, writes demo-random-weights.gguf (random weights, from
//   the engine's test-model generator through tools/dev/write-demo-model.ts).
// - ensureDevCredentials: a local admin (admin@localhost) and a development API key, created once through auth's
//   admin subjects on NATS (as the cli user, like the `sovren` CLI; never by SQL) and kept in
//   <root>/dev-credentials.json (0600) so that later starts print the same key while it is valid.
// Never in production: the launcher calls these only when NODE_ENV is development.

import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, JSONCodec } from 'nats';

import { writePrivateFile } from '../nats/nats-server-config.mjs';
import { LauncherError, runCommand } from './process-control.mjs';

export const DEMO_MODEL_ID = 'demo-random-weights';
export const DEV_ADMIN_EMAIL = 'admin@localhost';
/** What the development key may do: call the models and manage its owner's keys; nothing of billing or admin. */
export const DEV_KEY_SCOPES = ['inference:generate', 'auth:api_keys', 'auth:profile'];
const DEV_CREDENTIALS_FILE = 'dev-credentials.json';
const ERROR_HEADER = 'Sovren-Error';

/** Writes the demo model when the models directory has no GGUF; resolves whether it wrote one. */
export async function ensureDemoModel({ repoRoot, modelsDir, log }) {
  mkdirSync(modelsDir, { recursive: true });
  if (readdirSync(modelsDir).some((name) => name.endsWith('.gguf'))) return false;
  const out = join(modelsDir, `${DEMO_MODEL_ID}.gguf`);
  log(`no model in ${modelsDir}: writing ${DEMO_MODEL_ID}.gguf, a small model with RANDOM weights`);
  log('  (its answers are gibberish; it only shows the API works. README "Adding a real model" says how)');
  const result = await runCommand(
    'npx',
    ['ts-node', '--transpile-only', '-r', 'tsconfig-paths/register', 'tools/dev/write-demo-model.ts', out],
    { cwd: repoRoot, env: { ...process.env, TS_NODE_PROJECT: 'tsconfig.base.json' }, quiet: true },
  );
  if (result.code !== 0) throw new LauncherError(`writing the demo model failed:\n${result.output.trim()}`);
  return true;
}

const codec = JSONCodec();

async function request(connection, subject, payload) {
  const reply = await connection.request(subject, codec.encode(payload), { timeout: 10_000 });
  const body = codec.decode(reply.data);
  if (reply.headers?.has(ERROR_HEADER)) {
    const error = new Error(`${subject}: ${body?.error?.code}: ${body?.error?.message}`);
    error.code = body?.error?.code;
    throw error;
  }
  return body;
}

/**
 * The development admin and key: reused from <root>/dev-credentials.json while auth still knows the key as active,
 * otherwise created. `natsAuth`: {user, pass} of the cli user, or undefined for a NATS without users. Resolves
 * {email, userId, keyId, key, created, models: [ids]}.
 */
export async function ensureDevCredentials({ root, natsUrl, natsAuth, log }) {
  const file = join(root, DEV_CREDENTIALS_FILE);
  const connection = await connect({
    servers: natsUrl,
    name: 'sovren-dev-launcher',
    reconnect: false,
    inboxPrefix: '_INBOX.cli',
    ...(natsAuth ?? {}),
  });
  try {
    let saved;
    if (existsSync(file)) {
      try {
        saved = JSON.parse(readFileSync(file, 'utf8'));
      } catch (error) {
        log(`${file} is unreadable (${error.message}); creating a new development key`);
      }
    }
    let created = false;
    if (saved?.keyId && saved?.userId && saved?.key) {
      const { keys } = await request(connection, 'auth.admin.keys.list', { v: 1, user: saved.userId }).catch(
        (error) => {
          if (error.code === 'NOT_FOUND') return { keys: [] };
          throw error;
        },
      );
      const key = keys.find((k) => k.id === saved.keyId);
      if (!key || key.revokedAt || (key.expiresAt && Date.parse(key.expiresAt) <= Date.now())) saved = undefined;
    } else saved = undefined;
    if (!saved) {
      let user;
      try {
        ({ user } = await request(connection, 'auth.admin.users.create', {
          v: 1,
          email: DEV_ADMIN_EMAIL,
          displayName: 'Local admin',
          role: 'admin',
        }));
      } catch (error) {
        if (error.code !== 'CONFLICT') throw error;
        const { users } = await request(connection, 'auth.admin.users.list', { v: 1 });
        user = users.find((u) => u.email === DEV_ADMIN_EMAIL);
        if (!user) throw error;
      }
      const reply = await request(connection, 'auth.admin.keys.create', {
        v: 1,
        user: user.id,
        name: 'development key (npm start)',
        scopes: DEV_KEY_SCOPES,
      });
      saved = { email: DEV_ADMIN_EMAIL, userId: user.id, keyId: reply.apiKey.id, key: reply.key };
      writePrivateFile(file, `${JSON.stringify(saved, null, 2)}\n`);
      created = true;
    }
    const { models } = await request(connection, 'inference.models', { v: 1 });
    return { ...saved, file, created, models: models.map((m) => m.id) };
  } finally {
    await connection.close();
  }
}

/** The lines that show how to call the first model: curl (streamed) and the OpenAI SDK. */
export function firstCallLines({ baseUrl, key, model }) {
  const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello!' }], stream: true });
  const curl =
    `curl -N ${baseUrl}/v1/chat/completions -H "Authorization: Bearer ${key}" ` +
    `-H 'content-type: application/json' -d '${body}'`;
  const sdk =
    `node --input-type=module -e "import OpenAI from 'openai'; ` + // sovereignty-lint-allow: our own local inference
    `const client = new OpenAI({ baseURL: '${baseUrl}/v1', apiKey: '${key}' }); ` +
    `const stream = await client.chat.completions.create({ model: '${model}', messages: [{ role: 'user', content: 'Hello!' }], stream: true }); ` +
    `for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? ''); console.log();"`;
  return { curl, sdk };
}
