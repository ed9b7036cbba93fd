// POST /v1/embeddings, OpenAI's shape: `{object: "list", data: [{object: "embedding", index, embedding}], model,
// usage}`; `encoding_format: "base64"` sends each vector as the base64 of its little-endian float32 bytes (what
// the official SDKs ask for by default and decode).
import { Body, Controller, HttpCode, Post, Req, UseFilters } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthRoute, CurrentAuth, type RequestAuth } from '@sovren/auth-guard';
import { ApiError, ApiErrorCode, RawResponse, type RequestWithId } from '@sovren/http';
import { randomUUID } from 'node:crypto';

import { OpenAiExceptionFilter } from '../openai/openai-exception.filter';
import { EmbeddingListResponse } from '../openai/dtos/openai.responses';
import { EmbeddingsDto, embeddingInputs } from './embeddings.dto';
import { EmbeddingsService, type EmbeddingRequest } from './embeddings.service';

export interface EmbeddingsResponse {
  object: 'list';
  data: Array<{ object: 'embedding'; index: number; embedding: number[] | string }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

@ApiTags('openai')
@ApiBearerAuth()
@Controller('v1')
@RawResponse()
@UseFilters(OpenAiExceptionFilter)
export class EmbeddingsController {
  constructor(private readonly embeddings: EmbeddingsService) {}

  @Post('embeddings')
  @HttpCode(200)
  @AuthRoute({ routeClass: 'inference', scopes: ['inference:generate'] })
  @ApiOperation({ summary: 'Embeddings of one text or a batch (OpenAI-compatible)' })
  @ApiOkResponse({
    description: '`{object: "list", data: [{object: "embedding", index, embedding}], model, usage}`',
    type: EmbeddingListResponse,
  })
  async create(
    @Body() body: EmbeddingsDto,
    @CurrentAuth() auth: RequestAuth | undefined,
    @Req() req: RequestWithId,
  ): Promise<EmbeddingsResponse> {
    const ownerId = auth?.identity.userId;
    if (!ownerId) {
      throw new ApiError(
        401,
        ApiErrorCode.UNAUTHORIZED,
        'authentication required: send an API key as Authorization: Bearer',
      );
    }
    const request: EmbeddingRequest = {
      requestId: req.requestId ?? randomUUID(),
      ownerId,
      model: body.model,
      inputs: embeddingInputs(body.input),
    };
    if (body.dimensions !== undefined) request.dimensions = body.dimensions;
    if (auth?.identity.apiKeyId) request.keyId = auth.identity.apiKeyId;
    if (auth?.scopes.includes('inference:admin')) request.modelAdmin = true;
    const result = await this.embeddings.embed(request);
    const base64 = body.encoding_format === 'base64';
    return {
      object: 'list',
      data: result.vectors.map((vector, index) => ({
        object: 'embedding',
        index,
        embedding: base64
          ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64')
          : Array.from(vector),
      })),
      model: body.model,
      usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
    };
  }
}
