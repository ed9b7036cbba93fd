// voice's OpenAPI document: valid OpenAPI 3, every route Nest registered documented (summary, responses,
// access), the UI served from this server, and docs/api/voice.json up to date.
import {
  incompleteOperations,
  openApiSnapshotProblem,
  openApiUiProblems,
  serviceOpenApi,
  type ServiceOpenApi,
  undocumentedRoutes,
  validateOpenApiDocument,
} from '@sovren/service/testing';

import { VoiceModule } from '../voice.module';

describe('voice OpenAPI document', () => {
  let openApi: ServiceOpenApi;

  beforeAll(async () => {
    openApi = await serviceOpenApi('voice', VoiceModule);
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

  it('states the scopes of every guarded route', () => {
    for (const item of Object.values(openApi.document.paths)) {
      for (const operation of Object.values(item) as Array<Record<string, unknown>>) {
        const secured = Array.isArray(operation['security']) && operation['security'].length > 0;
        if (secured) expect(operation['x-required-scopes']).toEqual(expect.any(Array));
      }
    }
  });

  it('serves the UI (assets from this server, no outside validator) and the JSON document', async () => {
    expect(await openApiUiProblems(openApi.app, openApi.document)).toEqual([]);
  });

  it('matches the committed snapshot docs/api/voice.json', async () => {
    expect(await openApiSnapshotProblem('voice', openApi.document)).toBeUndefined();
  });
});
