// inference's OpenAPI document: valid OpenAPI 3, every route Nest registered documented (summary, responses,
// access), the UI served from this server, and docs/api/inference.json up to date.
import {
  incompleteOperations,
  openApiSnapshotProblem,
  openApiUiProblems,
  serviceOpenApi,
  type ServiceOpenApi,
  undocumentedRoutes,
  validateOpenApiDocument,
} from '@sovren/service/testing';

import { InferenceModule } from '../inference.module';

describe('inference OpenAPI document', () => {
  let openApi: ServiceOpenApi;

  beforeAll(async () => {
    openApi = await serviceOpenApi('inference', InferenceModule);
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

  it("documents the OpenAI-compatible routes with their scope and OpenAI's error shape", () => {
    const chat = openApi.document.paths['/v1/chat/completions']?.post as Record<string, unknown> | undefined;
    expect(chat?.['x-required-scopes']).toEqual(['inference:generate']);
    expect(JSON.stringify(chat?.['responses'])).toContain('#/components/responses/OpenAiUnauthorized');
    expect(Object.keys(openApi.document.paths['/v1/chat/completions']?.post?.responses?.['200'] ?? {})).toContain(
      'content',
    );
    const load = openApi.document.paths['/api/v1/inference/models/{id}/load']?.post as unknown as
      | Record<string, unknown>
      | undefined;
    expect(load?.['x-required-scopes']).toEqual(['inference:admin']);
  });

  it('serves the UI (assets from this server, no outside validator) and the JSON document', async () => {
    expect(await openApiUiProblems(openApi.app, openApi.document)).toEqual([]);
  });

  it('matches the committed snapshot docs/api/inference.json', async () => {
    expect(await openApiSnapshotProblem('inference', openApi.document)).toBeUndefined();
  });
});
