// Organizations: the owners that group users (and, later, billing accounts). Every change is recorded by the
// PostgreSQL audit trigger; concurrent edits are refused by optimistic locking instead of silently overwritten.
import { HttpStatus, Injectable } from '@nestjs/common';
import {
  DatabaseRegistry,
  OptimisticLockError,
  Organization,
  POSTGRES_DATABASE,
  RowNotFoundError,
  updateWithVersion,
} from '@sovren/database';
import { ApiError, ApiErrorCode } from '@sovren/http';
import { QueryFailedError, Repository } from 'typeorm';

import { CreateOrganizationDto } from './dtos/create-organization.dto';
import { UpdateOrganizationDto } from './dtos/update-organization.dto';

const UNIQUE_VIOLATION = '23505';

@Injectable()
export class OrganizationsService {
  constructor(private readonly databases: DatabaseRegistry) {}

  async create(dto: CreateOrganizationDto): Promise<Organization> {
    const repository = this.repository();
    try {
      return await repository.save(repository.create({ name: dto.name, slug: dto.slug }));
    } catch (error) {
      if (error instanceof QueryFailedError && (error.driverError as { code?: string }).code === UNIQUE_VIOLATION) {
        throw new ApiError(
          HttpStatus.CONFLICT,
          ApiErrorCode.CONFLICT,
          `an organization with slug '${dto.slug}' already exists`,
        );
      }
      throw error;
    }
  }

  list(): Promise<Organization[]> {
    return this.repository().find({ order: { createdAt: 'ASC' } });
  }

  async get(id: string): Promise<Organization> {
    const found = await this.repository().findOne({ where: { id } });
    if (!found) throw new ApiError(HttpStatus.NOT_FOUND, ApiErrorCode.NOT_FOUND, `organization ${id} does not exist`);
    return found;
  }

  async update(id: string, dto: UpdateOrganizationDto): Promise<Organization> {
    const current = await this.get(id);
    const changed = this.repository().merge(current, { name: dto.name ?? current.name });
    changed.version = dto.version;
    try {
      return await updateWithVersion(this.repository(), changed);
    } catch (error) {
      if (error instanceof OptimisticLockError) {
        throw new ApiError(HttpStatus.CONFLICT, ApiErrorCode.CONFLICT, error.message, {
          expected_version: error.expectedVersion,
          current_version: error.actualVersion,
        });
      }
      if (error instanceof RowNotFoundError)
        throw new ApiError(HttpStatus.NOT_FOUND, ApiErrorCode.NOT_FOUND, error.message);
      throw error;
    }
  }

  /** Soft delete: the row stays (and stays audited) but is no longer listed or found. */
  async remove(id: string): Promise<void> {
    const result = await this.repository().softDelete({ id });
    if (!result.affected)
      throw new ApiError(HttpStatus.NOT_FOUND, ApiErrorCode.NOT_FOUND, `organization ${id} does not exist`);
  }

  private repository(): Repository<Organization> {
    const postgres = this.databases.get(POSTGRES_DATABASE);
    if (!postgres.isReady()) {
      throw new ApiError(
        HttpStatus.SERVICE_UNAVAILABLE,
        ApiErrorCode.SERVICE_UNAVAILABLE,
        'the database is not available; try again shortly',
        {
          dependency: 'postgres',
          reason: postgres.error(),
        },
      );
    }
    return postgres.dataSource.getRepository(Organization);
  }
}
