// SQLite `users` in users.db: the local user record (auth adds identities, sessions and keys in later migrations).

import { Column, Entity } from 'typeorm';
import { SovrenBaseEntity } from './sovren-base.entity';

@Entity({ name: 'users' })
export class User extends SovrenBaseEntity {
  @Column({ type: 'varchar', length: 320, nullable: true })
  email!: string | null;

  @Column({ name: 'display_name', type: 'varchar', length: 200 })
  displayName!: string;
}
