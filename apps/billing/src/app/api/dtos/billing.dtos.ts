// Request bodies and queries of /api/v1/billing, validated by the global ValidationPipe.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsISO8601, IsNumber, IsOptional, IsPositive, Length, Matches } from 'class-validator';

import { BILLING_PLAN_NAMES } from '../billing-plans';

export class ChangePlanDto {
  @ApiProperty({ enum: BILLING_PLAN_NAMES })
  @IsIn(BILLING_PLAN_NAMES, { message: `plan must be one of ${BILLING_PLAN_NAMES.join(', ')}` })
  plan!: string;
}

export class AddPaymentMethodDto {
  @ApiProperty({ enum: ['stripe', 'zoho'] })
  @IsIn(['stripe', 'zoho'])
  provider!: 'stripe' | 'zoho';

  /** Stripe checkout session id (cs_…) or token, or the Zoho plugin's token. Never card data. */
  @ApiProperty({
    pattern: '^[A-Za-z0-9_\\-.]{4,256}$',
    description: "Stripe checkout session id (cs_...) or token, or the Zoho plugin's token. Never card data.",
  })
  @Matches(/^[A-Za-z0-9_\-.]{4,256}$/, {
    message: 'token must be the gateway token or checkout session id (4-256 characters, no card data)',
  })
  token!: string;

  @ApiPropertyOptional({ default: false, description: 'Make it the default payment method' })
  @IsOptional()
  @IsBoolean()
  isDefault?: boolean;
}

export class PayInvoiceDto {
  /** Part of the balance to pay now (in the invoice's currency); default the whole balance. */
  @ApiPropertyOptional({
    exclusiveMinimum: true,
    minimum: 0,
    description: "Part of the balance to pay now (the invoice's currency, 2 decimals); default the whole balance",
  })
  @IsOptional()
  @IsNumber(
    { allowNaN: false, allowInfinity: false, maxDecimalPlaces: 2 },
    { message: 'amount must be a number with at most 2 decimal places' },
  )
  @IsPositive({ message: 'amount must be greater than 0' })
  amount?: number;
}

export class UsageQuery {
  /** Inclusive start (ISO 8601 date or time); default 30 days ago. */
  @ApiPropertyOptional({ format: 'date-time', description: 'Inclusive start (ISO 8601); default 30 days ago' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  /** Exclusive end; default now. */
  @ApiPropertyOptional({ format: 'date-time', description: 'Exclusive end; default now (at most 400 days after from)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}

export class OwnerParam {
  @ApiProperty({ minLength: 1, maxLength: 128, description: 'A user or organization id' })
  @Length(1, 128)
  ownerId!: string;
}
