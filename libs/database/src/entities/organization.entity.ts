// PostgreSQL `organizations`: the example main table proving the audit-trigger pattern (migration 1).

import { Check, Column, Entity, Index } from 'typeorm';
import { SovrenBaseEntity } from './sovren-base.entity';

/** Lower-case words of letters and digits joined by single hyphens, e.g. `acme-labs`. */
export const ORGANIZATION_SLUG_PATTERN = /^[a-z0-9]+(-[a-z0-9]+)*$/;

@Entity({ name: 'organizations' })
@Check('chk_organizations_slug_format', `slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'`)
export class Organization extends SovrenBaseEntity {
  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Index('uq_organizations_slug', { unique: true })
  @Column({ type: 'varchar', length: 63 })
  slug!: string;
}
