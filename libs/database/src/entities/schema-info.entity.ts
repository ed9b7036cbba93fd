// SQLite `schema_info` (every SQLite database): key/value facts about the database, written by its migrations.

import { Column, Entity } from 'typeorm';
import { SovrenBaseEntity } from './sovren-base.entity';

@Entity({ name: 'schema_info' })
export class SchemaInfo extends SovrenBaseEntity {
  @Column({ type: 'varchar', length: 100, unique: true })
  key!: string;

  @Column({ type: 'text' })
  value!: string;
}
