// The OpenAPI checks the services' specs rely on must be able to fail: an invalid document is refused by the
// validator, a registered route missing from the document is reported, a thin operation is reported.
import type { OpenAPIObject } from '@nestjs/swagger';

import { incompleteOperations, undocumentedRoutes, validateOpenApiDocument } from '../openapi-check';

const documented: OpenAPIObject = {
  openapi: '3.0.0',
  info: { title: 't', version: '1' },
  paths: {
    '/things/{id}': {
      get: {
        summary: 'Read a thing',
        tags: ['things'],
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': { description: 'The thing.', content: { 'application/json': { schema: { type: 'object' } } } },
        },
      },
    },
  },
};

describe('OpenAPI checks', () => {
  it('accepts a valid document and refuses one that breaks the OpenAPI schema', async () => {
    expect(await validateOpenApiDocument(documented)).toEqual({ valid: true, errors: null });
    const broken = { ...documented, paths: { '/x': { get: { responses: 'none' } } } } as unknown as OpenAPIObject;
    expect((await validateOpenApiDocument(broken)).valid).toBe(false);
  });

  it('reports a registered route the document does not describe', () => {
    const routes = [
      { method: 'get', path: '/things/{id}' },
      { method: 'delete', path: '/things/{id}' },
    ];
    expect(undocumentedRoutes(documented, routes)).toEqual(['DELETE /things/{id}']);
  });

  it('reports an operation without summary, described answer, schema or path parameter', () => {
    const thin: OpenAPIObject = {
      ...documented,
      paths: { '/things/{id}': { post: { responses: { '200': { description: '' } } } } },
    };
    expect(incompleteOperations(thin)).toEqual([
      'POST /things/{id}: no summary (@ApiOperation({ summary }))',
      'POST /things/{id}: no tag (@ApiTags)',
      'POST /things/{id}: response 200 has no description',
      'POST /things/{id}: response 200 has no content schema (type or schema)',
      'POST /things/{id}: path parameter {id} is not described (@Param or @ApiParam)',
    ]);
    expect(incompleteOperations(documented)).toEqual([]);
  });
});
