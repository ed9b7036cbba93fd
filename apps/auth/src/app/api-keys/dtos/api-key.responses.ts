// OpenAPI shapes of the API-key answers; each class implements the type the route returns, so they cannot drift.
import { ApiProperty } from '@nestjs/swagger';

import { API_KEY_TIERS, type ApiKeyTier, type ApiKeyView, type CreatedApiKey } from '../api-key.service';

export class ApiKeyResponse implements ApiKeyView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) user_id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ description: 'The first characters of the key, to recognise it' }) prefix!: string;
  @ApiProperty({ type: [String], example: ['inference:generate'] }) scopes!: string[];
  @ApiProperty({ enum: API_KEY_TIERS }) tier!: ApiKeyTier;
  @ApiProperty({ type: Number, nullable: true, description: "The key's own hourly limit" })
  rate_limit_per_hour!: number | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) last_used_at!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) expires_at!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) revoked_at!: string | null;
}

export class CreatedApiKeyResponse extends ApiKeyResponse implements CreatedApiKey {
  @ApiProperty({ description: 'The full key: shown in this answer only, never stored' }) key!: string;
}
