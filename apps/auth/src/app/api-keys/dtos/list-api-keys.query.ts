// Query of GET /api/v1/auth/api-keys: admins may list another user's keys.
import { IsOptional, IsUUID } from 'class-validator';

export class ListApiKeysQuery {
  @IsOptional()
  @IsUUID()
  user_id?: string;
}
