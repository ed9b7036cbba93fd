// The body Kill Bill pushes to the notification callback (its ExtBusEvent JSON).
import { IsOptional, IsString, IsUUID, Length, Matches } from 'class-validator';

export class KillBillNotificationDto {
  @Matches(/^[A-Z_]{3,64}$/, { message: 'eventType must be a Kill Bill event type such as INVOICE_CREATION' })
  eventType!: string;

  @IsOptional()
  @IsUUID()
  accountId?: string | null;

  @Matches(/^[A-Z_]{3,64}$/, { message: 'objectType must be a Kill Bill object type such as INVOICE' })
  objectType!: string;

  @IsOptional()
  @IsUUID()
  objectId?: string | null;

  @IsOptional()
  @IsString()
  @Length(0, 4096)
  metaData?: string | null;
}
