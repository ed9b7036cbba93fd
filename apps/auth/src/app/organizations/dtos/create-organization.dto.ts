// Body of POST /api/v1/organizations.
import { IsNotEmpty, IsString, Matches, MaxLength } from 'class-validator';
import { ORGANIZATION_SLUG_PATTERN } from '@sovren/database';

export class CreateOrganizationDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;

  @IsString()
  @MaxLength(63)
  @Matches(ORGANIZATION_SLUG_PATTERN, {
    message: 'slug must be lower-case words of letters and digits joined by hyphens',
  })
  slug!: string;
}
