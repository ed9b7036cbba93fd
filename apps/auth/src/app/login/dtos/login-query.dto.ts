// Query of GET /api/v1/auth/login/:provider (the callback's query is checked by LoginCallbackGuard, before passport).
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';

export class LoginQuery {
  /** Where to send the browser after login (a path on this site). */
  @ApiPropertyOptional({ maxLength: 500, description: 'Where to send the browser after login (a path on this site)' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  return_to?: string;
}
