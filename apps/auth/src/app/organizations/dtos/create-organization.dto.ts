// Body of POST /api/v1/organizations.
import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString, Matches, MaxLength } from 'class-validator';
import { ORGANIZATION_SLUG_PATTERN } from '@sovren/database';

export class CreateOrganizationDto {
  @ApiProperty({ maxLength: 200 })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;

  @ApiProperty({ maxLength: 63, pattern: ORGANIZATION_SLUG_PATTERN.source, example: 'acme-research' })
  @IsString()
  @MaxLength(63)
  @Matches(ORGANIZATION_SLUG_PATTERN, {
    message: 'slug must be lower-case words of letters and digits joined by hyphens',
  })
  slug!: string;
}
