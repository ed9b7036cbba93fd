// Request and response shapes of /api/v1/voice/numbers.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Matches, MaxLength } from 'class-validator';

export const E164 = /^\+[1-9]\d{6,14}$/;

export class PurchaseNumberDto {
  @ApiProperty({
    description: 'The number to order, E.164 (one the available search offered)',
    example: '+14155550101',
  })
  @IsString()
  @Matches(E164, { message: 'number must be an E.164 number such as +14155550101' })
  number!: string;
}

export class AssignApplicationDto {
  @ApiProperty({ description: 'One of your applications: it answers the calls to this number' })
  @IsString()
  @MaxLength(64)
  application_id!: string;
}

export class PhoneNumberResponse {
  @ApiProperty({ example: '+14155550101' }) number!: string;
  @ApiPropertyOptional({ nullable: true, description: 'The application inbound calls go to' })
  applicationId!: string | null;
  @ApiPropertyOptional({ nullable: true, description: "Skyetel's id of the number" }) carrierId!: string | null;
  @ApiProperty({ enum: ['active', 'released'] }) status!: string;
  @ApiPropertyOptional({ nullable: true, description: 'When Skyetel last listed it' }) syncedAt!: string | null;
}

export class PhoneNumberListResponse {
  @ApiProperty({ type: [PhoneNumberResponse] }) numbers!: PhoneNumberResponse[];
}

export class AvailableNumber {
  @ApiProperty({ example: '+14155550101' }) number!: string;
  @ApiPropertyOptional({ nullable: true }) rateCenter!: string | null;
  @ApiPropertyOptional({ nullable: true }) state!: string | null;
}

export class AvailableNumberListResponse {
  @ApiProperty({ type: [AvailableNumber] }) numbers!: AvailableNumber[];
}
