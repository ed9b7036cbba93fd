// The OpenAPI 3 document of a service: @nestjs/swagger builds it from the controllers and DTOs, then it is
// completed from what the code already declares, so nothing is copied by hand — each guarded route's scopes and
// roles (@AuthRoute metadata) become its security, `x-required-scopes` and 401/403/429 answers; non-raw JSON
// answers are wrapped in the success envelope; every route gets the error envelope (OpenAI's error shape under
// /v1). Served at /api/docs (Swagger UI, assets from our own server) and /api/docs-json.
import type { INestApplication, Type } from '@nestjs/common';
import { GUARDS_METADATA, SSE_METADATA } from '@nestjs/common/constants';
import { ModulesContainer } from '@nestjs/core';
import { DECORATORS, DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type {
  OperationObject,
  ReferenceObject,
  ResponseObject,
  SchemaObject,
} from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import {
  ACCESS_COOKIE,
  AUTH_ROUTE_OPTIONS,
  type AuthRouteOptions,
  SCOPE_CATALOGUE,
  type ScopeDefinition,
  SovrenAuthGuard,
} from '@sovren/auth-guard';
import type { ServiceName } from '@sovren/config';
import { API_VERSION, ApiErrorCode, RAW_RESPONSE_KEY } from '@sovren/http';

/** Swagger UI; its assets (swagger-ui-dist) are served from the same path, never from a CDN. */
export const OPENAPI_UI_PATH = 'api/docs';
/** The OpenAPI document as JSON. */
export const OPENAPI_JSON_PATH = 'api/docs-json';
/** Operations under this prefix are OpenAI-compatible: raw answers and OpenAI's error shape. */
export const OPENAI_COMPATIBLE_PREFIX = '/v1/';
/** Extension on every guarded operation: the scopes (from the catalogue) a credential must hold. */
export const REQUIRED_SCOPES_EXTENSION = 'x-required-scopes';
/** Extension on guarded operations restricted to roles (e.g. admin). */
export const REQUIRED_ROLES_EXTENSION = 'x-required-roles';

export const SECURITY_SCHEMES = {
  bearer: 'bearer',
  apiKeyHeader: 'api-key',
  sessionCookie: 'session-cookie',
} as const;

const SERVICE_DESCRIPTIONS: Record<ServiceName, string> = {
  auth: 'Sign-in (OAuth/OIDC providers), sessions, API keys and organizations.',
  billing: "The owner's plan, usage, invoices and payments (Kill Bill behind it), and the admin views.",
  inference: 'The OpenAI-compatible API (/v1/chat/completions, /v1/completions, /v1/models) and model management.',
  monitoring: 'Platform status from heartbeats, alerts, host and GPU metrics.',
  voice: 'Phone numbers and voice calls (Skyetel SIP trunk, on-machine speech recognition and synthesis).',
};

const ENVELOPE_NOTE =
  'Routes under /api answer `{ success: true, data, meta }` and, on error, `{ success: false, error: { code, ' +
  "message, details }, meta }`. The OpenAI-compatible routes under /v1 answer OpenAI's shapes and `{ error: { " +
  'message, type, param, code } }`. A guarded route lists the scopes it needs in `x-required-scopes` and in its ' +
  'description; a credential without one of them gets 403 INSUFFICIENT_SCOPE.';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

type Handler = (...args: unknown[]) => unknown;

interface RouteFacts {
  controller: Type;
  handler: Handler;
  auth: AuthRouteOptions | undefined;
  guarded: boolean;
  raw: boolean;
  /** Media types from @ApiProduces (audio, Prometheus text...). */
  produces: string[];
}

/** Builds the complete OpenAPI document of a running (or preview-mode) application. */
export function buildOpenApiDocument(app: INestApplication, service: ServiceName, version: string): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle(`SOVREN ${service}`)
    .setDescription(`${SERVICE_DESCRIPTIONS[service]}\n\n${ENVELOPE_NOTE}`)
    .setVersion(version)
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', description: 'An API key or a session access token.' },
      SECURITY_SCHEMES.bearer,
    )
    .addApiKey(
      { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key.' },
      SECURITY_SCHEMES.apiKeyHeader,
    )
    .addCookieAuth(
      ACCESS_COOKIE,
      { type: 'apiKey', in: 'cookie', name: ACCESS_COOKIE, description: 'The session cookie set at sign-in.' },
      SECURITY_SCHEMES.sessionCookie,
    )
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controllerKey, methodKey) => operationId(controllerKey, methodKey),
  });
  completeDocument(document, routeFactsOf(app));
  return document;
}

/**
 * Builds the document and serves it: the UI at /api/docs (assets from swagger-ui-dist on this server, no
 * validator badge calling out) and the JSON at /api/docs-json. Call before `app.init()`/`listen()`.
 */
export function setupOpenApi(app: INestApplication, service: ServiceName, version: string): OpenAPIObject {
  const document = buildOpenApiDocument(app, service, version);
  SwaggerModule.setup(OPENAPI_UI_PATH, app, document, {
    jsonDocumentUrl: OPENAPI_JSON_PATH,
    raw: ['json'],
    customSiteTitle: `SOVREN ${service} API`,
    // Swagger UI would otherwise send the document to an outside validator for its badge.
    swaggerOptions: { validatorUrl: null },
  });
  return document;
}

function operationId(controllerKey: string, methodKey: string): string {
  return `${controllerKey}_${methodKey}`;
}

/** Every controller handler of the app by operation id, with the access rule and raw-ness it declares. */
function routeFactsOf(app: INestApplication): Map<string, RouteFacts> {
  const facts = new Map<string, RouteFacts>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as Type | null;
      if (!controller?.prototype) continue;
      const prototype = controller.prototype as Record<string, Handler>;
      for (const name of methodNames(prototype)) {
        const handler = prototype[name];
        const guards = [
          ...((Reflect.getMetadata(GUARDS_METADATA, controller) as unknown[] | undefined) ?? []),
          ...((Reflect.getMetadata(GUARDS_METADATA, handler) as unknown[] | undefined) ?? []),
        ];
        const auth =
          (Reflect.getMetadata(AUTH_ROUTE_OPTIONS, handler) as AuthRouteOptions | undefined) ??
          (Reflect.getMetadata(AUTH_ROUTE_OPTIONS, controller) as AuthRouteOptions | undefined);
        const raw =
          Reflect.getMetadata(RAW_RESPONSE_KEY, handler) === true ||
          Reflect.getMetadata(RAW_RESPONSE_KEY, controller) === true ||
          Reflect.getMetadata(SSE_METADATA, handler) === true;
        const produces =
          (Reflect.getMetadata(DECORATORS.API_PRODUCES, handler) as string[] | undefined) ??
          (Reflect.getMetadata(DECORATORS.API_PRODUCES, controller) as string[] | undefined) ??
          [];
        facts.set(operationId(controller.name, name), {
          controller,
          handler,
          auth,
          guarded: guards.includes(SovrenAuthGuard),
          raw,
          produces,
        });
      }
    }
  }
  return facts;
}

function methodNames(prototype: object): string[] {
  const names = new Set<string>();
  for (let p: object | null = prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const name of Object.getOwnPropertyNames(p)) {
      if (name !== 'constructor' && typeof Object.getOwnPropertyDescriptor(p, name)?.value === 'function') {
        names.add(name);
      }
    }
  }
  return [...names];
}

function completeDocument(document: OpenAPIObject, facts: Map<string, RouteFacts>): void {
  const components = (document.components ??= {});
  components.schemas = { ...components.schemas, ...sharedSchemas() };
  components.responses = { ...components.responses, ...sharedErrorResponses() };
  for (const [path, item] of Object.entries(document.paths)) {
    const openAi = path.startsWith(OPENAI_COMPATIBLE_PREFIX);
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const route = operation.operationId ? facts.get(operation.operationId) : undefined;
      if (route) describeProducedMedia(operation, route.produces);
      if (route && !route.raw && !openAi) wrapSuccessResponses(operation);
      if (route?.guarded) describeAccess(operation, route.auth, openAi);
      addErrorResponses(operation, openAi);
    }
  }
  // Keep only the shared answers some operation uses (an app without /v1 routes lists no OpenAI errors).
  const used = JSON.stringify(document.paths);
  for (const name of Object.keys(components.responses)) {
    if (!used.includes(`"#/components/responses/${name}"`)) delete components.responses[name];
  }
}

/** A 2xx answer without a schema on a route that @ApiProduces a non-JSON type (audio...) sends those bytes. */
function describeProducedMedia(operation: OperationObject, produces: readonly string[]): void {
  const media = produces.filter((type) => !type.includes('json'));
  if (media.length === 0) return;
  for (const [status, response] of Object.entries(operation.responses)) {
    if (!status.startsWith('2') || status === '204' || !response || isReference(response) || response.content) continue;
    response.content = Object.fromEntries(
      media.map((type) => [type, { schema: { type: 'string', format: 'binary' } }]),
    );
  }
}

/** The success envelope around each JSON 2xx answer of a non-raw route. */
function wrapSuccessResponses(operation: OperationObject): void {
  for (const [status, response] of Object.entries(operation.responses)) {
    if (!status.startsWith('2') || !response || isReference(response)) continue;
    const json = response.content?.['application/json'];
    if (!json) continue;
    json.schema = {
      type: 'object',
      required: ['success', 'data', 'meta'],
      properties: {
        success: { type: 'boolean', enum: [true] },
        data: json.schema ?? {},
        meta: { $ref: '#/components/schemas/ApiMeta' },
      },
    };
  }
}

/** Security, required scopes and roles, and the answers of the guard, from the route's @AuthRoute options. */
function describeAccess(operation: OperationObject, auth: AuthRouteOptions | undefined, openAi: boolean): void {
  const schemes = [SECURITY_SCHEMES.bearer, SECURITY_SCHEMES.apiKeyHeader, SECURITY_SCHEMES.sessionCookie].map(
    (scheme) => ({ [scheme]: [] as string[] }),
  );
  const scopes = [...(auth?.scopes ?? [])];
  const roles = [...(auth?.roles ?? [])];
  const lines: string[] = [];
  if (auth?.allowAnonymous) {
    operation.security = [{}, ...schemes];
    lines.push('**Access:** public; a credential is optional. Anonymous callers are rate limited per client address.');
  } else {
    operation.security = schemes;
    const catalogue: Record<string, ScopeDefinition | undefined> = SCOPE_CATALOGUE;
    // An unknown scope is refused at start-up by the auth-route audit; the document just names it.
    const scopeList = scopes
      .map((scope) => `\`${scope}\` (${catalogue[scope]?.grants ?? 'not in the catalogue'})`)
      .join(', ');
    lines.push(`**Access:** requires the scope${scopes.length === 1 ? '' : 's'} ${scopeList}.`);
    if (roles.length > 0) lines.push(`Only for the role${roles.length === 1 ? '' : 's'} ${roles.join(', ')}.`);
  }
  operation[REQUIRED_SCOPES_EXTENSION as keyof OperationObject] = scopes as never;
  if (roles.length > 0) operation[REQUIRED_ROLES_EXTENSION as keyof OperationObject] = roles as never;
  operation.description = [operation.description, lines.join(' ')].filter(Boolean).join('\n\n');

  const responses = operation.responses;
  if (!auth?.allowAnonymous) {
    responses['401'] ??= errorRef('Unauthorized', openAi);
    responses['403'] ??= errorRef('Forbidden', openAi);
  }
  responses['429'] ??= errorRef('RateLimited', openAi);
  if (!auth?.anonymousWhenAuthUnavailable) responses['503'] ??= errorRef('AuthUnavailable', openAi);
}

function addErrorResponses(operation: OperationObject, openAi: boolean): void {
  const hasInput = (operation.parameters?.length ?? 0) > 0 || operation.requestBody !== undefined;
  if (hasInput) operation.responses['400'] ??= errorRef('ValidationFailed', openAi);
  operation.responses['default'] ??= errorRef('Error', openAi);
}

type ErrorResponseName =
  | 'Unauthorized'
  | 'Forbidden'
  | 'RateLimited'
  | 'AuthUnavailable'
  | 'ValidationFailed'
  | 'Error';

const ERROR_RESPONSES: Record<ErrorResponseName, { description: string; code?: ApiErrorCode; retryAfter?: true }> = {
  Unauthorized: { description: 'No credential, or the credential was refused.', code: ApiErrorCode.UNAUTHORIZED },
  Forbidden: {
    description:
      'The credential lacks a required scope (INSUFFICIENT_SCOPE) or role (FORBIDDEN), or a cross-site write rode ' +
      'on a session cookie (FORBIDDEN).',
    code: ApiErrorCode.INSUFFICIENT_SCOPE,
  },
  RateLimited: {
    description: 'Rate limit reached (per user, or per client address when anonymous).',
    code: ApiErrorCode.RATE_LIMITED,
    retryAfter: true,
  },
  AuthUnavailable: {
    description: 'The auth service could not be asked: the guard fails closed.',
    code: ApiErrorCode.SERVICE_UNAVAILABLE,
  },
  ValidationFailed: {
    description: 'The request is invalid; VALIDATION_FAILED lists each field and its problems in `details`.',
    code: ApiErrorCode.VALIDATION_FAILED,
  },
  Error: { description: 'Any other error.' },
};

function errorRef(name: ErrorResponseName, openAi: boolean): ReferenceObject {
  return { $ref: `#/components/responses/${openAi ? 'OpenAi' : ''}${name}` };
}

/** Each error answer twice: in the platform's error envelope, and (prefixed OpenAi) in OpenAI's error shape. */
function sharedErrorResponses(): Record<string, ResponseObject> {
  const responses: Record<string, ResponseObject> = {};
  for (const [name, error] of Object.entries(ERROR_RESPONSES)) {
    const headers = error.retryAfter
      ? { 'Retry-After': { description: 'Seconds until a request is allowed again.', schema: { type: 'integer' } } }
      : undefined;
    responses[name] = {
      description: error.code ? `${error.description} Error code ${error.code}.` : error.description,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiErrorEnvelope' } } },
      ...(headers && { headers }),
    };
    responses[`OpenAi${name}`] = {
      description: error.description,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/OpenAiError' } } },
      ...(headers && { headers }),
    };
  }
  return responses;
}

function isReference(value: ResponseObject | ReferenceObject): value is ReferenceObject {
  return '$ref' in value;
}

function sharedSchemas(): Record<string, SchemaObject> {
  return {
    ApiMeta: {
      type: 'object',
      required: ['timestamp', 'version', 'request_id'],
      properties: {
        timestamp: { type: 'string', format: 'date-time' },
        version: { type: 'string', enum: [API_VERSION] },
        request_id: {
          type: 'string',
          nullable: true,
          description: 'Echoes X-Request-Id (or a fresh UUID); quote it when reporting a problem.',
        },
      },
    },
    ApiErrorEnvelope: {
      type: 'object',
      required: ['success', 'error', 'meta'],
      properties: {
        success: { type: 'boolean', enum: [false] },
        error: {
          type: 'object',
          required: ['code', 'message', 'details'],
          properties: {
            code: { type: 'string', enum: Object.values(ApiErrorCode) },
            message: { type: 'string' },
            details: { description: 'Per-code details (VALIDATION_FAILED: [{ field, messages }]), or null.' },
          },
        },
        meta: { $ref: '#/components/schemas/ApiMeta' },
      },
    },
    OpenAiError: {
      type: 'object',
      required: ['error'],
      properties: {
        error: {
          type: 'object',
          required: ['message', 'type'],
          properties: {
            message: { type: 'string' },
            type: { type: 'string', example: 'invalid_request_error' },
            param: { type: 'string', nullable: true },
            code: { type: 'string', nullable: true },
          },
        },
      },
    },
  };
}
