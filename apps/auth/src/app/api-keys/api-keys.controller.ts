// /api/v1/auth/api-keys: create (the key is in the answer once), list, revoke. Thin: ApiKeyService decides.
import { Body, Controller, Delete, Get, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthRoute, CurrentAuth, type RequestAuth } from '@sovren/auth-guard';
import { ApiError, ApiErrorCode } from '@sovren/http';

import { AUTH_ROUTE_CLASS } from '../sessions/sessions.controller';
import { Actor, ApiKeyService, ApiKeyView, CreatedApiKey } from './api-key.service';
import { ApiKeyResponse, CreatedApiKeyResponse } from './dtos/api-key.responses';
import { CreateApiKeyDto } from './dtos/create-api-key.dto';
import { ListApiKeysQuery } from './dtos/list-api-keys.query';
import { SecurityNotices } from '../notifications/security-notices.service';

function actorOf(auth: RequestAuth | undefined): Actor {
  if (!auth?.identity.userId) throw ApiError.fromCode(ApiErrorCode.UNAUTHORIZED, 'authentication required');
  const actor: Actor = { userId: auth.identity.userId, role: auth.identity.role ?? 'user' };
  if (auth.identity.kind === 'api_key' && auth.identity.apiKeyId) actor.apiKeyId = auth.identity.apiKeyId;
  return actor;
}

@ApiTags('api-keys')
@Controller('api/v1/auth/api-keys')
@AuthRoute({ routeClass: AUTH_ROUTE_CLASS, scopes: ['auth:api_keys'] })
export class ApiKeysController {
  constructor(
    private readonly apiKeys: ApiKeyService,
    private readonly notices: SecurityNotices,
  ) {}

  @Post()
  @ApiOperation({
    summary: 'Create an API key (the key is in this answer only)',
    description: 'Its scopes can never exceed what the caller holds; admins may create a key for another user.',
  })
  @ApiCreatedResponse({ description: 'The new key, with the full secret once.', type: CreatedApiKeyResponse })
  create(@CurrentAuth() auth: RequestAuth | undefined, @Body() dto: CreateApiKeyDto): CreatedApiKey {
    const created = this.apiKeys.create(actorOf(auth), {
      name: dto.name,
      scopes: dto.scopes,
      tier: dto.tier,
      userId: dto.user_id,
      expiresAt: dto.expires_at === undefined ? undefined : Date.parse(dto.expires_at),
      ratePerHour: dto.rate_limit_per_hour,
    });
    this.notices.apiKeyCreated(created.user_id, created);
    return created;
  }

  @Get()
  @ApiOperation({ summary: "List your API keys (admins: any user's)" })
  @ApiOkResponse({ description: 'The keys, without their secrets.', type: [ApiKeyResponse] })
  list(@CurrentAuth() auth: RequestAuth | undefined, @Query() query: ListApiKeysQuery): ApiKeyView[] {
    return this.apiKeys.list(actorOf(auth), query.user_id);
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Revoke an API key' })
  @ApiOkResponse({ description: 'The revoked key.', type: ApiKeyResponse })
  revoke(@CurrentAuth() auth: RequestAuth | undefined, @Param('id', new ParseUUIDPipe()) id: string): ApiKeyView {
    return this.apiKeys.revoke(actorOf(auth), id);
  }
}
