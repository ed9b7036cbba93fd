// Checks a service's OpenAPI document for its spec: the app module is built in Nest's preview mode (controllers
// and routes registered, no provider instantiated, so no NATS, database or model is needed), the document is
// served exactly as bootstrapService serves it, and the routes Express registered are compared with it.
import type { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { OpenAPIObject } from '@nestjs/swagger';
import type {
  OperationObject,
  ReferenceObject,
  SchemaObject,
} from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { readPlatformVersion, type ServiceName } from '@sovren/config';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';

import { OPENAPI_JSON_PATH, OPENAPI_UI_PATH, REQUIRED_SCOPES_EXTENSION, setupOpenApi } from '../lib/openapi';

/** Set to 1 to (re)write docs/api/<service>.json instead of comparing with it (`npx nx run tools:openapi`). */
export const OPENAPI_UPDATE_ENV = 'SOVREN_OPENAPI_UPDATE';
export const OPENAPI_REGENERATE_COMMAND = 'npx nx run tools:openapi';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
/** What an operation must say about its successful answer (a redirect or an empty 204 counts). */
const SUCCESS_STATUS = /^[23]\d\d$/;

export interface RegisteredRoute {
  method: string;
  /** OpenAPI form: /api/v1/things/{id} */
  path: string;
}

export interface ServiceOpenApi {
  app: INestApplication;
  document: OpenAPIObject;
  /** Every route Express registered for the app's controllers (the document's own routes excluded). */
  routes: RegisteredRoute[];
  close(): Promise<void>;
}

/** Builds the app module in preview mode with the OpenAPI routes, and its document. */
export async function serviceOpenApi(service: ServiceName, appModule: Type): Promise<ServiceOpenApi> {
  const app = await NestFactory.create(appModule, { preview: true, logger: false, abortOnError: false });
  // The package version, not SOVREN_VERSION: the committed snapshot must not depend on the environment.
  const document = setupOpenApi(app, service, readPlatformVersion());
  await app.init();
  return { app, document, routes: registeredRoutes(app), close: () => app.close() };
}

/** The routes of the Express router, minus the document's own and middleware mounted on every method. */
export function registeredRoutes(app: INestApplication): RegisteredRoute[] {
  const express = app.getHttpAdapter().getInstance() as { router?: ExpressRouter; _router?: ExpressRouter };
  const router = express.router ?? express._router;
  if (!router) throw new Error('no Express router: is this an Express app that has been initialised?');
  const routes: RegisteredRoute[] = [];
  for (const layer of router.stack) {
    if (!layer.route) continue;
    const path = layer.route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    if (path === `/${OPENAPI_UI_PATH}` || path.startsWith(`/${OPENAPI_UI_PATH}/`) || path === `/${OPENAPI_JSON_PATH}`)
      continue;
    const methods = Object.keys(layer.route.methods).filter((m) => m !== '_all');
    // Nest mounts forRoutes('*') middleware as a route on every method; no controller here answers every method.
    if (methods.length > HTTP_METHODS.length) continue;
    for (const method of methods) routes.push({ method, path });
  }
  return routes;
}

interface ExpressRouter {
  stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }>;
}

/** `METHOD path` of each registered route the document does not describe. */
export function undocumentedRoutes(document: OpenAPIObject, routes: readonly RegisteredRoute[]): string[] {
  return routes
    .filter((route) => !document.paths[route.path]?.[route.method as (typeof HTTP_METHODS)[number]])
    .map((route) => `${route.method.toUpperCase()} ${route.path}`);
}

/** `METHOD path: problem` for every operation documented too thinly to be used without reading the code. */
export function incompleteOperations(document: OpenAPIObject): string[] {
  const problems: string[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const where = `${method.toUpperCase()} ${path}`;
      for (const problem of operationProblems(document, operation)) problems.push(`${where}: ${problem}`);
      for (const name of path.match(/\{[^}]+\}/g) ?? []) {
        const declared = operation.parameters?.some((p) => !('$ref' in p) && p.in === 'path' && `{${p.name}}` === name);
        if (!declared) problems.push(`${where}: path parameter ${name} is not described (@Param or @ApiParam)`);
      }
    }
  }
  return problems;
}

function operationProblems(document: OpenAPIObject, operation: OperationObject): string[] {
  const problems: string[] = [];
  if (!operation.summary?.trim()) problems.push('no summary (@ApiOperation({ summary }))');
  if (!operation.tags?.length) problems.push('no tag (@ApiTags)');
  const successes = Object.entries(operation.responses).filter(([status]) => SUCCESS_STATUS.test(status));
  if (successes.length === 0) problems.push('no success response (@ApiOkResponse, @ApiCreatedResponse, ...)');
  for (const [status, response] of successes) {
    if (!response || '$ref' in response) continue;
    if (!response.description?.trim()) problems.push(`response ${status} has no description`);
    if ((status === '200' || status === '201') && !response.content)
      problems.push(`response ${status} has no content schema (type or schema)`);
  }
  const scopes = (operation as unknown as Record<string, unknown>)[REQUIRED_SCOPES_EXTENSION];
  if (operation.security?.length && !Array.isArray(scopes))
    problems.push(`secured but no ${REQUIRED_SCOPES_EXTENSION}`);
  for (const parameter of operation.parameters ?? []) {
    if ('$ref' in parameter) continue;
    if (!parameter.schema && !parameter.content) problems.push(`parameter ${parameter.name} has no schema`);
  }
  const body = operation.requestBody;
  if (body && !('$ref' in body)) {
    for (const [type, media] of Object.entries(body.content)) {
      if (media.schema && isEmptyObjectSchema(document, media.schema))
        problems.push(`request body ${type} has no documented properties (@ApiProperty on the DTO)`);
    }
  }
  return problems;
}

function isEmptyObjectSchema(document: OpenAPIObject, schema: SchemaObject | ReferenceObject): boolean {
  const resolved = '$ref' in schema ? document.components?.schemas?.[schema.$ref.split('/').pop() ?? ''] : schema;
  if (!resolved || '$ref' in resolved) return false;
  const composed = resolved.allOf ?? resolved.oneOf ?? resolved.anyOf;
  if (composed) return false;
  return resolved.type === 'object' && Object.keys(resolved.properties ?? {}).length === 0;
}

/** Validates the document against the OpenAPI schema of its version (@seriousme/openapi-schema-validator). */
export async function validateOpenApiDocument(document: OpenAPIObject): Promise<{ valid: boolean; errors: unknown }> {
  // The validator is an ES module; Jest's CommonJS runtime cannot load it, so it runs in its own Node process.
  const script = [
    "import { Validator } from '@seriousme/openapi-schema-validator';",
    "let input = ''; for await (const chunk of process.stdin) input += chunk;",
    'const result = await new Validator().validate(JSON.parse(input));',
    'process.stdout.write(JSON.stringify({ valid: result.valid, errors: result.errors ?? null }));',
  ].join('\n');
  const output = await new Promise<string>((resolvePromise, reject) => {
    const child = execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { cwd: workspaceRoot(), maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`the OpenAPI validator failed: ${error.message}\n${stderr}`));
        else resolvePromise(stdout);
      },
    );
    child.stdin?.end(JSON.stringify(document));
  });
  return JSON.parse(output) as { valid: boolean; errors: unknown };
}

/** Serves the app's HTTP server on a free loopback port (preview mode cannot `listen`); returns its base URL. */
export async function serveOnLoopback(app: INestApplication): Promise<{ url: string; stop(): Promise<void> }> {
  const server = app.getHttpServer() as import('node:http').Server;
  await new Promise<void>((resolvePromise) => server.listen(0, '127.0.0.1', resolvePromise));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolvePromise, reject) =>
        server.close((error) => (error ? reject(error) : resolvePromise())),
      ),
  };
}

/**
 * What is wrong with the served UI and document (empty when nothing): /api/docs answers 200 with HTML whose
 * scripts and styles all load from this server (no CDN), the UI sends nothing to an outside validator, and
 * /api/docs-json answers the document.
 */
export async function openApiUiProblems(app: INestApplication, document: OpenAPIObject): Promise<string[]> {
  const server = await serveOnLoopback(app);
  const problems: string[] = [];
  try {
    const uiUrl = `${server.url}/${OPENAPI_UI_PATH}`;
    const ui = await fetch(uiUrl);
    const html = await ui.text();
    if (ui.status !== 200) problems.push(`GET /${OPENAPI_UI_PATH} answered ${ui.status}`);
    if (!ui.headers.get('content-type')?.includes('text/html')) problems.push('the UI is not served as text/html');
    const assets = [...html.matchAll(/<(?:script|link)\b[^>]*?(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
    if (!assets.some((asset) => asset.endsWith('swagger-ui-bundle.js')))
      problems.push('the UI loads no swagger-ui-bundle.js');
    for (const asset of assets) {
      const assetUrl = new URL(asset, uiUrl);
      if (assetUrl.origin !== server.url) {
        problems.push(`the UI loads ${asset} from another server`);
        continue;
      }
      const answer = await fetch(assetUrl);
      await answer.arrayBuffer();
      if (answer.status !== 200) problems.push(`asset ${assetUrl.pathname} answered ${answer.status}`);
    }
    const init = await (await fetch(`${uiUrl}/swagger-ui-init.js`)).text();
    if (!/"validatorUrl":\s*null/.test(init)) problems.push('the UI would send the document to an outside validator');
    const json = await fetch(`${server.url}/${OPENAPI_JSON_PATH}`);
    if (json.status !== 200) problems.push(`GET /${OPENAPI_JSON_PATH} answered ${json.status}`);
    else if (!isDeepStrictEqual(JSON.parse(await json.text()), JSON.parse(JSON.stringify(document))))
      problems.push(`GET /${OPENAPI_JSON_PATH} is not the built document`);
  } finally {
    await server.stop();
  }
  return problems;
}

export function openApiSnapshotPath(service: ServiceName): string {
  return join(workspaceRoot(), 'docs', 'api', `${service}.json`);
}

/**
 * Compares the document with docs/api/<service>.json (as data, not text) and returns what is wrong, or
 * undefined. With SOVREN_OPENAPI_UPDATE=1 it writes the snapshot (Prettier-formatted) instead.
 */
export async function openApiSnapshotProblem(
  service: ServiceName,
  document: OpenAPIObject,
): Promise<string | undefined> {
  const path = openApiSnapshotPath(service);
  const current = JSON.parse(JSON.stringify(document)) as unknown;
  if (process.env[OPENAPI_UPDATE_ENV] === '1') {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(current, null, 2)}\n`);
    await formatWithPrettier(path);
    return undefined;
  }
  const fix = `regenerate it with \`${OPENAPI_REGENERATE_COMMAND}\` and commit docs/api/${service}.json`;
  if (!existsSync(path)) return `docs/api/${service}.json does not exist: ${fix}`;
  const committed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  if (isDeepStrictEqual(committed, current)) return undefined;
  return `docs/api/${service}.json is stale (the routes or DTOs changed): ${fix}`;
}

/** Prettier, the repository's formatter (`npm test` checks docs/api too), in its own process as for the validator. */
function formatWithPrettier(path: string): Promise<void> {
  const cli = join(workspaceRoot(), 'node_modules', 'prettier', 'bin', 'prettier.cjs');
  return new Promise<void>((resolvePromise, reject) => {
    execFile(
      process.execPath,
      [cli, '--write', '--log-level', 'warn', path],
      { cwd: workspaceRoot() },
      (error, _out, stderr) =>
        error ? reject(new Error(`prettier failed on ${path}: ${error.message}\n${stderr}`)) : resolvePromise(),
    );
  });
}

function workspaceRoot(): string {
  for (let dir = resolve(__dirname); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no nx.json above ${__dirname}`);
  }
}
