// The columns every SOVREN table carries (PostgreSQL and SQLite alike): uuid id, timestamps, soft delete, version.
// Column types are left to TypeORM's per-driver defaults so one class works on both; the PostgreSQL migrations
// declare the timestamps as timestamptz.

import { CreateDateColumn, DeleteDateColumn, PrimaryGeneratedColumn, UpdateDateColumn, VersionColumn } from 'typeorm';

export abstract class SovrenBaseEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @CreateDateColumn({ name: 'created_at' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at' })
  updatedAt!: Date;

  /** Set by soft delete; TypeORM's find methods hide rows where it is not null. */
  @DeleteDateColumn({ name: 'deleted_at', nullable: true })
  deletedAt!: Date | null;

  /** Incremented on every update; updateWithVersion refuses a write based on an older version. */
  @VersionColumn({ name: 'version' })
  version!: number;
}
