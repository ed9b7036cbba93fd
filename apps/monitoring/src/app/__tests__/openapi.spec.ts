// monitoring's OpenAPI document: valid OpenAPI 3, every route Nest registered documented (summary, responses,
// access), the UI served from this server, and docs/api/monitoring.json up to date.
import {
  incompleteOperations,
  openApiSnapshotProblem,
  openApiUiProblems,
  serviceOpenApi,
  type ServiceOpenApi,
  undocumentedRoutes,
  validateOpenApiDocument,
} from '@sovren/service/testing';

import { MonitoringModule } from '../monitoring.module';

describe('monitoring OpenAPI document', () => {
  let openApi: ServiceOpenApi;

  beforeAll(async () => {
    openApi = await serviceOpenApi('monitoring', MonitoringModule);
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

  it('names the scopes of each guarded route and leaves the public status open', () => {
    const alerts = openApi.document.paths['/api/v1/alerts']?.get as Record<string, unknown> | undefined;
    expect(alerts?.['x-required-scopes']).toEqual(['monitoring:read']);
    expect(alerts?.['x-required-roles']).toEqual(['admin']);
    const status = openApi.document.paths['/api/v1/status']?.get;
    expect(status?.security?.[0]).toEqual({});
  });

  it('serves the UI (assets from this server, no outside validator) and the JSON document', async () => {
    expect(await openApiUiProblems(openApi.app, openApi.document)).toEqual([]);
  });

  it('matches the committed snapshot docs/api/monitoring.json', async () => {
    expect(await openApiSnapshotProblem('monitoring', openApi.document)).toBeUndefined();
  });
});
