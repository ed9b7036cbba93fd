// Query of GET /api/v1/auth/api-keys: admins may list another user's keys.
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsUUID } from 'class-validator';

export class ListApiKeysQuery {
  @ApiPropertyOptional({ format: 'uuid', description: "Admins only: list another user's keys" })
  @IsOptional()
  @IsUUID()
  user_id?: string;
}
