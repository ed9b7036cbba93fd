// Body of POST /api/v1/auth/api-keys.
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
  @IsString()
  @Length(1, 100)
  name!: string;

  /** From the scope catalogue (@sovren/auth-guard scopes.ts), e.g. `inference:generate`, `billing:read`. */
  @IsArray()
  @ArrayMaxSize(50)
  @Matches(/^[a-z][a-z0-9_.-]*(:[a-z0-9_.-]+)*$/, {
    each: true,
    message: 'each scope must look like area:action (lower case)',
  })
  scopes!: string[];

  @IsOptional()
  @IsIn(API_KEY_TIERS)
  tier?: ApiKeyTier;

  /** Admins only: create the key for this user. */
  @IsOptional()
  @IsUUID()
  user_id?: string;

  @IsOptional()
  @IsISO8601({ strict: true })
  expires_at?: string;

  /** The key's own hourly request limit, below the budget its user shares across all credentials. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  rate_limit_per_hour?: number;
}
