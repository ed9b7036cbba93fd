// What setupOpenApi adds to the document @nestjs/swagger builds, read from the code's own declarations: the access
// rule of each @AuthRoute (security, x-required-scopes, x-required-roles, the guard's answers), the success envelope
// around non-raw answers, the error envelope (OpenAI's error shape under /v1), and bytes for @ApiProduces routes.
import { Body, Controller, Get, Module, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiProperty } from '@nestjs/swagger';
import { AuthGuardModule, AuthRoute } from '@sovren/auth-guard';
import { RawResponse } from '@sovren/http';
import { IsString } from 'class-validator';

import { serviceOpenApi, type ServiceOpenApi } from '../../testing';
import { ServiceModule } from '../service.module';

class ThingDto {
  @ApiProperty()
  @IsString()
  name!: string;
}

@Controller('api/v1/things')
class ThingsController {
  @Get()
  @AuthRoute({ routeClass: 'test', roles: ['admin'], scopes: ['billing:admin'] })
  @ApiOperation({ summary: 'List things' })
  @ApiOkResponse({ description: 'Things.', type: [ThingDto] })
  list(): ThingDto[] {
    return [];
  }

  @Post()
  @AuthRoute({ routeClass: 'test', allowAnonymous: true })
  @ApiOperation({ summary: 'Make a thing' })
  @ApiOkResponse({ description: 'The thing.', type: ThingDto })
  make(@Body() body: ThingDto): ThingDto {
    return body;
  }
}

@Controller('v1')
@RawResponse()
class OpenAiLikeController {
  @Post('audio')
  @AuthRoute({ routeClass: 'test', scopes: ['inference:generate'] })
  @ApiOperation({ summary: 'Bytes' })
  @ApiProduces('audio/wav')
  @ApiOkResponse({ description: 'Audio.' })
  audio(): void {
    return undefined;
  }
}

@Module({
  imports: [ServiceModule.forRoot({ service: 'monitoring', postgres: false, sqlite: [] }), AuthGuardModule.forRoot()],
  controllers: [ThingsController, OpenAiLikeController],
})
class ThingsModule {}

describe('setupOpenApi', () => {
  let openApi: ServiceOpenApi;

  beforeAll(async () => {
    openApi = await serviceOpenApi('monitoring', ThingsModule);
  });

  afterAll(async () => {
    await openApi?.close();
  });

  const operation = (path: string, method: 'get' | 'post') =>
    openApi.document.paths[path]?.[method] as unknown as Record<string, unknown> & {
      security?: unknown[];
      responses: Record<string, { $ref?: string; content?: Record<string, { schema?: unknown }> }>;
      description?: string;
    };

  it("turns a guarded route's @AuthRoute into security, scopes, roles and the guard's answers", () => {
    const list = operation('/api/v1/things', 'get');
    expect(list.security).toEqual([{ bearer: [] }, { 'api-key': [] }, { 'session-cookie': [] }]);
    expect(list['x-required-scopes']).toEqual(['billing:admin']);
    expect(list['x-required-roles']).toEqual(['admin']);
    expect(list.description).toContain("`billing:admin` (read any owner's billing, upload the catalog)");
    expect(list.responses['401']).toEqual({ $ref: '#/components/responses/Unauthorized' });
    expect(list.responses['403']).toEqual({ $ref: '#/components/responses/Forbidden' });
    expect(list.responses['429']).toEqual({ $ref: '#/components/responses/RateLimited' });
  });

  it('lists an optional credential and no 401/403 on a public route', () => {
    const make = operation('/api/v1/things', 'post');
    expect(make.security?.[0]).toEqual({});
    expect(make['x-required-scopes']).toEqual([]);
    expect(make.responses['401']).toBeUndefined();
    expect(make.responses['400']).toEqual({ $ref: '#/components/responses/ValidationFailed' });
  });

  it('wraps /api answers in the success envelope and gives every route the error envelope', () => {
    const list = operation('/api/v1/things', 'get');
    expect(list.responses['200']?.content?.['application/json']?.schema).toEqual({
      type: 'object',
      required: ['success', 'data', 'meta'],
      properties: {
        success: { type: 'boolean', enum: [true] },
        data: { type: 'array', items: { $ref: '#/components/schemas/ThingDto' } },
        meta: { $ref: '#/components/schemas/ApiMeta' },
      },
    });
    expect(list.responses['default']).toEqual({ $ref: '#/components/responses/Error' });
  });

  it("answers /v1 routes in OpenAI's error shape, unwrapped, and documents @ApiProduces bytes", () => {
    const audio = operation('/v1/audio', 'post');
    expect(audio.responses['401']).toEqual({ $ref: '#/components/responses/OpenAiUnauthorized' });
    expect(audio.responses['200']?.content).toEqual({ 'audio/wav': { schema: { type: 'string', format: 'binary' } } });
    expect(openApi.document.components?.responses?.['OpenAiUnauthorized']).toBeDefined();
  });
});
