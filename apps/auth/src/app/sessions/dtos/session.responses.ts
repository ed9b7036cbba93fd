// OpenAPI shapes of the session answers; classes implement the types the routes return where one exists.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { AUTH_ROLES, type AuthRole } from '@sovren/messaging';

import type { SessionView } from '../session.service';

export class RefreshedSessionResponse {
  @ApiProperty({ format: 'uuid' }) session_id!: string;
  @ApiProperty({ format: 'date-time' }) access_expires_at!: string;
  @ApiProperty({ format: 'date-time' }) refresh_expires_at!: string;
  @ApiPropertyOptional({ description: 'Only when the refresh token came in the body (API clients)' })
  access_token?: string;
  @ApiPropertyOptional({ description: 'Only when the refresh token came in the body; the old one is spent' })
  refresh_token?: string;
}

export class RevokedResponse {
  @ApiProperty({ description: 'Whether a session was ended' }) revoked!: boolean;
}

export class RevokedCountResponse {
  @ApiProperty({ description: 'How many sessions were ended' }) revoked!: number;
}

export class SessionResponse implements SessionView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() device_id!: string;
  @ApiProperty({ type: String, nullable: true }) user_agent!: string | null;
  @ApiProperty({ type: String, nullable: true }) ip!: string | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) last_used_at!: string;
  @ApiProperty({ format: 'date-time' }) expires_at!: string;
  @ApiProperty({ description: 'The session this request belongs to' }) current!: boolean;
}

class MeUserResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ type: String, nullable: true }) email!: string | null;
  @ApiProperty() display_name!: string;
  @ApiProperty({ enum: AUTH_ROLES }) role!: AuthRole;
}

class MeIdentityResponse {
  @ApiProperty({ example: 'google' }) provider!: string;
  @ApiProperty({ type: String, nullable: true }) email!: string | null;
}

export class MeResponse {
  @ApiProperty({ type: MeUserResponse }) user!: MeUserResponse;
  @ApiProperty({ type: [MeIdentityResponse], description: 'The sign-in methods linked to the user' })
  identities!: MeIdentityResponse[];
  @ApiProperty({ description: 'Who the request authenticated as (session or API key)', type: Object })
  identity!: Record<string, unknown>;
  @ApiProperty({ type: [String], description: 'The scopes this credential holds' }) scopes!: string[];
  @ApiProperty({ example: 'authenticated' }) tier!: string;
}
