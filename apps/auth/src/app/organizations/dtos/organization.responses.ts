// OpenAPI shape of an organization as the API answers it (the entity's columns).
import { ApiProperty } from '@nestjs/swagger';
import type { Organization } from '@sovren/database';

type OrganizationFields = Pick<Organization, 'id' | 'name' | 'slug' | 'version' | 'createdAt' | 'updatedAt'>;

export class OrganizationResponse implements OrganizationFields {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ example: 'acme-research' }) slug!: string;
  @ApiProperty({ description: 'Incremented on every update; send it back in PATCH (optimistic locking)' })
  version!: number;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt!: Date;
  @ApiProperty({ type: String, format: 'date-time' }) updatedAt!: Date;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) deletedAt!: Date | null;
}
