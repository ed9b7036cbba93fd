// The body Kill Bill pushes to the notification callback (its ExtBusEvent JSON).
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, IsUUID, Length, Matches } from 'class-validator';

export class KillBillNotificationDto {
  @ApiProperty({ pattern: '^[A-Z_]{3,64}$', example: 'INVOICE_CREATION' })
  @Matches(/^[A-Z_]{3,64}$/, { message: 'eventType must be a Kill Bill event type such as INVOICE_CREATION' })
  eventType!: string;

  @ApiPropertyOptional({ type: String, format: 'uuid', nullable: true })
  @IsOptional()
  @IsUUID()
  accountId?: string | null;

  @ApiProperty({ pattern: '^[A-Z_]{3,64}$', example: 'INVOICE' })
  @Matches(/^[A-Z_]{3,64}$/, { message: 'objectType must be a Kill Bill object type such as INVOICE' })
  objectType!: string;

  @ApiPropertyOptional({ type: String, format: 'uuid', nullable: true })
  @IsOptional()
  @IsUUID()
  objectId?: string | null;

  @ApiPropertyOptional({ type: String, maxLength: 4096, nullable: true })
  @IsOptional()
  @IsString()
  @Length(0, 4096)
  metaData?: string | null;
}
