// billing's OpenAPI document: valid OpenAPI 3, every route Nest registered documented (summary, responses,
// access), the UI served from this server, and docs/api/billing.json up to date.
import {
  incompleteOperations,
  openApiSnapshotProblem,
  openApiUiProblems,
  serviceOpenApi,
  type ServiceOpenApi,
  undocumentedRoutes,
  validateOpenApiDocument,
} from '@sovren/service/testing';

import { BillingModule } from '../billing.module';

describe('billing OpenAPI document', () => {
  let openApi: ServiceOpenApi;

  beforeAll(async () => {
    openApi = await serviceOpenApi('billing', BillingModule);
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

  it('names the scope of each guarded route and leaves the Kill Bill callback to its path token', () => {
    const plan = openApi.document.paths['/api/v1/billing/subscription']?.put as Record<string, unknown> | undefined;
    expect(plan?.['x-required-scopes']).toEqual(['billing:write']);
    const admin = openApi.document.paths['/api/v1/billing/admin/catalog']?.post as Record<string, unknown> | undefined;
    expect(admin?.['x-required-scopes']).toEqual(['billing:admin']);
    expect(openApi.document.paths['/api/v1/billing/killbill/notifications/{token}']?.post?.security).toBeUndefined();
  });

  it('serves the UI (assets from this server, no outside validator) and the JSON document', async () => {
    expect(await openApiUiProblems(openApi.app, openApi.document)).toEqual([]);
  });

  it('matches the committed snapshot docs/api/billing.json', async () => {
    expect(await openApiSnapshotProblem('billing', openApi.document)).toBeUndefined();
  });
});
