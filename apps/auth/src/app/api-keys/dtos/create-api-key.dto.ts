// Body of POST /api/v1/auth/api-keys.
import { ArrayMaxSize, IsArray, IsIn, IsISO8601, IsOptional, IsString, IsUUID, Length, Matches } from 'class-validator';

import { API_KEY_TIERS, type ApiKeyTier } from '../api-key.service';

export class CreateApiKeyDto {
  @IsString()
  @Length(1, 100)
  name!: string;

  /** e.g. `inference:generate`, `billing:read`; `*` is reserved for interactive sessions. */
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
}
