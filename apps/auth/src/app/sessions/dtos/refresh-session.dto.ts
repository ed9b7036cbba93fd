// Body of POST /api/v1/auth/refresh for API clients; browsers send the refresh cookie instead.
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';

export class RefreshSessionDto {
  @ApiPropertyOptional({ maxLength: 256, description: 'API clients; browsers send the sovren_refresh cookie instead' })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  refresh_token?: string;
}
