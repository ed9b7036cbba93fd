// OpenAPI shape of GET /api/v1/auth/providers.
import { ApiProperty } from '@nestjs/swagger';

export class LoginProviderResponse {
  @ApiProperty({ example: 'github' }) id!: string;
  @ApiProperty({ example: 'GitHub' }) name!: string;
  @ApiProperty({ example: 'oauth2', description: 'oauth2 or oidc' }) protocol!: string;
  @ApiProperty({ example: '/api/v1/auth/login/github', description: 'Where a browser starts the sign-in' })
  login_url!: string;
}
