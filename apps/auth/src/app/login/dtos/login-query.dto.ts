// Query of GET /api/v1/auth/login/:provider and of the provider's redirect back to /callback/:provider.
import { IsOptional, IsString, MaxLength } from 'class-validator';

export class LoginQuery {
  /** Where to send the browser after login (a path on this site). */
  @IsOptional()
  @IsString()
  @MaxLength(500)
  return_to?: string;
}

export class CallbackQueryDto {
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  code?: string;

  @IsOptional()
  @IsString()
  @MaxLength(256)
  state?: string;

  @IsOptional()
  @IsString()
  @MaxLength(256)
  error?: string;

  @IsOptional()
  @IsString()
  @MaxLength(1024)
  error_description?: string;

  @IsOptional()
  @IsString()
  @MaxLength(2048)
  scope?: string;

  @IsOptional()
  @IsString()
  @MaxLength(2048)
  session_state?: string;

  @IsOptional()
  @IsString()
  @MaxLength(2048)
  iss?: string;
}
