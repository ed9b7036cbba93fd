// Body of POST /api/v1/auth/refresh for API clients; browsers send the refresh cookie instead.
import { IsOptional, IsString, MaxLength } from 'class-validator';

export class RefreshSessionDto {
  @IsOptional()
  @IsString()
  @MaxLength(256)
  refresh_token?: string;
}
