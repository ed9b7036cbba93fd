// Body of POST /api/v1/auth/api-keys.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Matches,
  Max,
  Min,
} from 'class-validator';

import { API_KEY_TIERS, type ApiKeyTier } from '../api-key.service';

export class CreateApiKeyDto {
  @ApiProperty({ minLength: 1, maxLength: 100 })
  @IsString()
  @Length(1, 100)
  name!: string;

  /** From the scope catalogue (@sovren/auth-guard scopes.ts), e.g. `inference:generate`, `billing:read`. */
  @ApiProperty({
    type: [String],
    maxItems: 50,
    example: ['inference:generate'],
    description: 'From the scope catalogue; never more than the caller holds',
  })
  @IsArray()
  @ArrayMaxSize(50)
  @Matches(/^[a-z][a-z0-9_.-]*(:[a-z0-9_.-]+)*$/, {
    each: true,
    message: 'each scope must look like area:action (lower case)',
  })
  scopes!: string[];

  @ApiPropertyOptional({ enum: API_KEY_TIERS })
  @IsOptional()
  @IsIn(API_KEY_TIERS)
  tier?: ApiKeyTier;

  /** Admins only: create the key for this user. */
  @ApiPropertyOptional({ format: 'uuid', description: 'Admins only: create the key for this user' })
  @IsOptional()
  @IsUUID()
  user_id?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsISO8601({ strict: true })
  expires_at?: string;

  /** The key's own hourly request limit, below the budget its user shares across all credentials. */
  @ApiPropertyOptional({ minimum: 1, maximum: 10_000_000, description: "The key's own hourly request limit" })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  rate_limit_per_hour?: number;
}
