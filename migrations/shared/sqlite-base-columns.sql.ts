// The SovrenBaseEntity columns in SQLite DDL, shared by the SQLite migrations so every table matches the entity.

export const SQLITE_BASE_COLUMNS = `
  "id" varchar PRIMARY KEY NOT NULL,
  "created_at" datetime NOT NULL DEFAULT (datetime('now')),
  "updated_at" datetime NOT NULL DEFAULT (datetime('now')),
  "deleted_at" datetime,
  "version" integer NOT NULL DEFAULT (1)`;

/** DDL of `schema_info`, the key/value table every SQLite database starts with. */
export const CREATE_SCHEMA_INFO = `
CREATE TABLE "schema_info" (${SQLITE_BASE_COLUMNS},
  "key" varchar(100) NOT NULL,
  "value" text NOT NULL,
  CONSTRAINT "uq_schema_info_key" UNIQUE ("key"),
  CONSTRAINT "chk_schema_info_key" CHECK (length("key") > 0)
)`;

/** Records which database a file is, so a file copied to the wrong name is recognisable. */
export const INSERT_DATABASE_NAME = `INSERT INTO "schema_info" ("id", "key", "value") VALUES (?, 'database', ?)`;
