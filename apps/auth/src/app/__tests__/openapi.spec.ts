// auth's OpenAPI document: valid OpenAPI 3, every route Nest registered documented (summary, responses,
// access), the UI served from this server, and docs/api/auth.json up to date.
import {
  incompleteOperations,
  openApiSnapshotProblem,
  openApiUiProblems,
  serviceOpenApi,
  type ServiceOpenApi,
  undocumentedRoutes,
  validateOpenApiDocument,
} from '@sovren/service/testing';

import { AuthModule } from '../auth.module';

describe('auth OpenAPI document', () => {
  let openApi: ServiceOpenApi;

  beforeAll(async () => {
    openApi = await serviceOpenApi('auth', AuthModule);
  });

  afterAll(async () => {
    await openApi?.close();
  });

  it('is a valid OpenAPI document', async () => {
    expect(await validateOpenApiDocument(openApi.document)).toEqual({ valid: true, errors: null });
  });

  it('documents every route Nest registered, each with a summary, tags, responses and its access rule', () => {
    expect(openApi.routes.length).toBeGreaterThan(0);
    expect(undocumentedRoutes(openApi.document, openApi.routes)).toEqual([]);
    expect(incompleteOperations(openApi.document)).toEqual([]);
  });

  it('names the scope of each guarded route and leaves refresh public', () => {
    const keys = openApi.document.paths['/api/v1/auth/api-keys']?.post as Record<string, unknown> | undefined;
    expect(keys?.['x-required-scopes']).toEqual(['auth:api_keys']);
    const organizations = openApi.document.paths['/api/v1/organizations']?.get as Record<string, unknown> | undefined;
    expect(organizations?.['x-required-roles']).toEqual(['admin']);
    expect(openApi.document.paths['/api/v1/auth/refresh']?.post?.security?.[0]).toEqual({});
  });

  it('serves the UI (assets from this server, no outside validator) and the JSON document', async () => {
    expect(await openApiUiProblems(openApi.app, openApi.document)).toEqual([]);
  });

  it('matches the committed snapshot docs/api/auth.json', async () => {
    expect(await openApiSnapshotProblem('auth', openApi.document)).toBeUndefined();
  });
});
