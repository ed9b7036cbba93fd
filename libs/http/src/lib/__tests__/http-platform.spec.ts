import 'reflect-metadata';
import {
  Body,
  Controller,
  ForbiddenException,
  Get,
  Header,
  INestApplication,
  Logger,
  Param,
  ParseIntPipe,
  Post,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { currentRequestId, JsonLogger, RawResponse } from '@sovren/observability';
import { Type } from 'class-transformer';
import { IsEmail, IsInt, IsString, Min, ValidateNested } from 'class-validator';
import request from 'supertest';

import { ApiError } from '../api-error';
import { ApiErrorCode } from '../api-error-code';
import { INTERNAL_ERROR_MESSAGE } from '../api-exception.filter';
import { applyHttpPlatform } from '../http-platform';

class AddressDto {
  @IsString()
  city!: string;
}

class CreateItemDto {
  @IsEmail()
  email!: string;

  @IsInt()
  @Min(1)
  quantity!: number;

  @ValidateNested()
  @Type(() => AddressDto)
  address!: AddressDto;
}

@Controller('items')
class ItemsController {
  private readonly logger = new Logger(ItemsController.name);

  @Get(':id')
  find(@Param('id', ParseIntPipe) id: number): { id: number } {
    return { id };
  }

  @Post()
  async create(@Body() body: CreateItemDto): Promise<{ created: boolean; isDto: boolean; seenRequestId?: string }> {
    await new Promise((resolve) => setImmediate(resolve));
    this.logger.log('creating item');
    return { created: true, isDto: body instanceof CreateItemDto, seenRequestId: currentRequestId() };
  }
}

@Controller()
class OdditiesController {
  @Get('raw')
  @RawResponse()
  raw(): { object: string } {
    return { object: 'list' };
  }

  @Get('text')
  @Header('Content-Type', 'text/plain')
  text(): string {
    return 'plain words';
  }

  @Get('empty')
  empty(): void {
    return undefined;
  }

  @Get('boom')
  boom(): never {
    throw new Error('connection to postgres://sovren:hunter2@db failed');
  }

  @Get('conflict')
  conflict(): never {
    throw new ApiError(409, ApiErrorCode.CONFLICT, 'Item already exists', { id: 7 });
  }

  @Get('unavailable')
  unavailable(): never {
    throw ApiError.fromCode(ApiErrorCode.SERVICE_UNAVAILABLE, 'nats unreachable', { dependency: 'nats' });
  }

  @Get('forbidden')
  forbidden(): never {
    throw new ForbiddenException('Not your item');
  }
}

describe('applyHttpPlatform', () => {
  let app: INestApplication;
  const logLines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ controllers: [ItemsController, OdditiesController] }).compile();
    app = moduleRef.createNestApplication({ bufferLogs: true });
    app.useLogger(new JsonLogger('auth', 'debug', (line) => logLines.push(JSON.parse(line))));
    applyHttpPlatform(app);
    await app.init();
  });

  afterAll(async () => {
    await app.close();
  });

  const server = () => app.getHttpServer();

  it('wraps handler results in the success envelope', async () => {
    const response = await request(server()).get('/items/42').expect(200);

    expect(response.body).toEqual({
      success: true,
      data: { id: 42 },
      meta: { timestamp: expect.any(String), version: 'v1', request_id: response.headers['x-request-id'] },
    });
  });

  it('sends data: null for a handler that returns nothing', async () => {
    const response = await request(server()).get('/empty').expect(200);

    expect(response.body).toMatchObject({ success: true, data: null });
  });

  it('validates bodies into DTOs and reports every bad field, nested ones as dotted paths', async () => {
    const response = await request(server())
      .post('/items')
      .send({ email: 'not-an-email', quantity: 0, address: { city: 5 }, admin: true })
      .expect(400);

    expect(response.body).toEqual({
      success: false,
      error: {
        code: 'VALIDATION_FAILED',
        message: 'Request validation failed',
        details: expect.arrayContaining([
          { field: 'email', messages: ['email must be an email'] },
          { field: 'quantity', messages: ['quantity must not be less than 1'] },
          { field: 'address.city', messages: ['city must be a string'] },
          { field: 'admin', messages: ['property admin should not exist'] },
        ]),
      },
      meta: { timestamp: expect.any(String), version: 'v1', request_id: expect.any(String) },
    });
    expect(response.body.error.details).toHaveLength(4);
  });

  it('keeps the request id through body parsing and async work, into the handler and its log lines', async () => {
    const response = await request(server())
      .post('/items')
      .set('X-Request-Id', 'client-req.001')
      .send({ email: 'ada@example.org', quantity: 2, address: { city: 'London' } })
      .expect(201);

    expect(response.body.data).toEqual({ created: true, isDto: true, seenRequestId: 'client-req.001' });
    expect(logLines).toContainEqual(
      expect.objectContaining({ msg: 'creating item', context: 'ItemsController', request_id: 'client-req.001' }),
    );
  });

  it('honours a well-formed X-Request-Id and replaces a malformed one with a UUID', async () => {
    const honoured = await request(server()).get('/items/1').set('X-Request-Id', 'abc-123_X.y').expect(200);
    expect(honoured.headers['x-request-id']).toBe('abc-123_X.y');
    expect(honoured.body.meta.request_id).toBe('abc-123_X.y');

    for (const bad of ['has space', 'x'.repeat(129), 'quote"d']) {
      const replaced = await request(server()).get('/items/1').set('X-Request-Id', bad).expect(200);
      expect(replaced.headers['x-request-id']).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      expect(replaced.body.meta.request_id).toBe(replaced.headers['x-request-id']);
    }

    const generated = await request(server()).get('/items/1').expect(200);
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sends @RawResponse() routes and non-JSON responses as they are', async () => {
    expect((await request(server()).get('/raw').expect(200)).body).toEqual({ object: 'list' });

    const text = await request(server()).get('/text').expect(200);
    expect(text.text).toBe('plain words');
  });

  it('answers an unknown route with a 404 error envelope', async () => {
    const response = await request(server()).get('/no/such/route').expect(404);

    expect(response.body).toMatchObject({
      success: false,
      error: { code: 'NOT_FOUND', message: 'Cannot GET /no/such/route', details: null },
      meta: { version: 'v1', request_id: response.headers['x-request-id'] },
    });
  });

  it('answers a malformed JSON body with 400 BAD_REQUEST', async () => {
    const response = await request(server())
      .post('/items')
      .set('Content-Type', 'application/json')
      .send('{"email": ')
      .expect(400);

    expect(response.body).toMatchObject({ success: false, error: { code: 'BAD_REQUEST', details: null } });
    expect(response.body.error.message).toMatch(/JSON/);
  });

  it('maps ApiError and Nest HTTP exceptions to their status and code', async () => {
    const conflict = await request(server()).get('/conflict').expect(409);
    expect(conflict.body.error).toEqual({ code: 'CONFLICT', message: 'Item already exists', details: { id: 7 } });

    const forbidden = await request(server()).get('/forbidden').expect(403);
    expect(forbidden.body.error).toEqual({ code: 'FORBIDDEN', message: 'Not your item', details: null });

    const badParam = await request(server()).get('/items/abc').expect(400);
    expect(badParam.body.error.code).toBe('BAD_REQUEST');
  });

  it('answers an unexpected error with a generic 500 and logs it with stack and request id, never leaking it', async () => {
    const response = await request(server()).get('/boom').set('X-Request-Id', 'boom-1').expect(500);

    expect(response.body).toEqual({
      success: false,
      error: { code: 'INTERNAL', message: INTERNAL_ERROR_MESSAGE, details: null },
      meta: { timestamp: expect.any(String), version: 'v1', request_id: 'boom-1' },
    });
    expect(response.text).not.toContain('hunter2');
    const logged = logLines.find((line) => line['request_id'] === 'boom-1' && line['level'] === 'error');
    expect(logged).toMatchObject({ context: 'ApiExceptionFilter', path: '/boom', status: 500 });
    expect(logged?.['err']).toMatchObject({
      message: expect.stringContaining('hunter2'),
      stack: expect.stringContaining('boom'),
    });
  });

  it('answers a deliberate 503 with its own message, logged as a warning without a stack', async () => {
    const response = await request(server()).get('/unavailable').set('X-Request-Id', 'probe-1').expect(503);

    expect(response.body.error).toEqual({
      code: 'SERVICE_UNAVAILABLE',
      message: 'nats unreachable',
      details: { dependency: 'nats' },
    });
    const logged = logLines.filter((line) => line['request_id'] === 'probe-1');
    expect(logged).toEqual([expect.objectContaining({ level: 'warn', status: 503, path: '/unavailable' })]);
    expect(logged[0]).not.toHaveProperty('err');
  });
});
