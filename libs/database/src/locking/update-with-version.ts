// Optimistic locking that really refuses stale writes. TypeORM's save() ignores the version it read, so
// updates that must not lose someone else's change go through updateWithVersion instead.

import type { Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import type { SovrenBaseEntity } from '../entities/sovren-base.entity';
import { OptimisticLockError, RowNotFoundError } from './database.errors';

/**
 * Writes `entity`'s column values with `UPDATE … WHERE id = :id AND version = :version AND deleted_at IS NULL`,
 * where `version` is the version the entity was read at. TypeORM's update adds `version = version + 1` and the
 * new `updated_at`. Returns the row as stored afterwards.
 * Throws OptimisticLockError (naming entity and id) when the row moved on, RowNotFoundError when it is gone.
 */
export async function updateWithVersion<T extends SovrenBaseEntity>(repository: Repository<T>, entity: T): Promise<T> {
  const metadata = repository.metadata;
  const entityName = metadata.name;
  if (!entity.id) throw new Error(`updateWithVersion(${entityName}): the entity has no id`);
  if (!Number.isInteger(entity.version)) {
    throw new Error(`updateWithVersion(${entityName} ${entity.id}): the entity has no version; load it first`);
  }

  const values: Record<string, unknown> = {};
  for (const column of metadata.columns) {
    // The managed columns are the database's business (id, version, timestamps, soft-delete marker).
    if (
      column.isPrimary ||
      column.isVersion ||
      column.isCreateDate ||
      column.isUpdateDate ||
      column.isDeleteDate ||
      column.isVirtual ||
      column.relationMetadata
    ) {
      continue;
    }
    const value: unknown = column.getEntityValue(entity);
    if (value !== undefined) values[column.propertyPath] = value;
  }

  const versionColumn = metadata.versionColumn?.databaseName ?? 'version';
  const deleteColumn = metadata.deleteDateColumn?.databaseName;
  const query = repository
    .createQueryBuilder()
    .update()
    .set(values as QueryDeepPartialEntity<T>)
    .where('id = :id', { id: entity.id })
    .andWhere(`${versionColumn} = :expectedVersion`, { expectedVersion: entity.version });
  if (deleteColumn) query.andWhere(`${deleteColumn} IS NULL`);
  const result = await query.execute();

  if (result.affected === 0) {
    const current = await repository.findOne({ where: { id: entity.id } as never, withDeleted: false });
    if (!current) throw new RowNotFoundError(entityName, entity.id);
    throw new OptimisticLockError(entityName, entity.id, entity.version, current.version);
  }
  return repository.findOneOrFail({ where: { id: entity.id } as never });
}
