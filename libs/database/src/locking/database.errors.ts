// Errors of the database layer, each with a stable code.

export enum DatabaseErrorCode {
  OptimisticLock = 'DATABASE_OPTIMISTIC_LOCK',
  RowNotFound = 'DATABASE_ROW_NOT_FOUND',
  Unavailable = 'DATABASE_UNAVAILABLE',
}

export class DatabaseError extends Error {
  constructor(
    readonly code: DatabaseErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The row changed since it was read: the write was refused so it cannot overwrite someone else's change. */
export class OptimisticLockError extends DatabaseError {
  constructor(
    readonly entity: string,
    readonly id: string,
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super(
      DatabaseErrorCode.OptimisticLock,
      `${entity} ${id} was changed by someone else (expected version ${expectedVersion}, ` +
        `found ${actualVersion}); reload it and apply the change again`,
    );
  }
}

/** The row to update does not exist (or is soft-deleted). */
export class RowNotFoundError extends DatabaseError {
  constructor(
    readonly entity: string,
    readonly id: string,
  ) {
    super(DatabaseErrorCode.RowNotFound, `${entity} ${id} does not exist or was deleted`);
  }
}

/** A data source is not connected (yet): see DatabaseModule's retrying initialisation. */
export class DatabaseUnavailableError extends DatabaseError {
  constructor(
    readonly database: string,
    reason: string,
  ) {
    super(DatabaseErrorCode.Unavailable, `Database ${database} is not available: ${reason}`);
  }
}
