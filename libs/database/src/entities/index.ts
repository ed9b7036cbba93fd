// Entity classes, and the explicit entity list of each database (no glob discovery).

import { Organization } from './organization.entity';
import { SchemaInfo } from './schema-info.entity';
import { User } from './user.entity';

export * from './sovren-base.entity';
export * from './organization.entity';
export * from './schema-info.entity';
export * from './user.entity';

export const POSTGRES_ENTITIES = [Organization];

export const SQLITE_ENTITIES = {
  users: [SchemaInfo, User],
  api_auth: [SchemaInfo],
  applications: [SchemaInfo],
  phone_numbers: [SchemaInfo],
} as const;
