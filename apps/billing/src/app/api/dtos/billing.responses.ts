// OpenAPI shapes of the billing answers; classes implement the types the routes return where one exists, so they
// cannot drift.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { KillBillInvoice, KillBillPayment, KillBillPaymentMethod } from '@sovren/killbill';

import type { ReadyAccount } from '../../accounts/billing-accounts.service';
import type { InvoicePaymentResult, PaymentAttemptResult } from '../../payments/payments.service';
import type { UsageByDay } from '../../usage/usage-ledger.repository';
import { BILLING_PLANS } from '../billing-plans';

const STANDINGS = ['good', 'downgraded'];

export class BillingPlanResponse {
  @ApiProperty({ enum: BILLING_PLANS.map((plan) => plan.name) }) name!: string;
  @ApiProperty({ enum: BILLING_PLANS.map((plan) => plan.tier) }) tier!: string;
  @ApiProperty({ description: 'Monthly fee in US dollars' }) monthlyFeeUsd!: number;
}

export class BillingAccountResponse implements ReadyAccount {
  @ApiProperty({ description: 'The user or organization id' }) ownerId!: string;
  @ApiProperty({ description: 'The Kill Bill account id' }) accountId!: string;
  @ApiProperty() subscriptionId!: string;
  @ApiProperty({ example: 'sovren-free-monthly' }) planName!: string;
  @ApiProperty({ enum: STANDINGS, description: 'downgraded while an invoice stays unpaid' }) standing!: string;
}

export class AdminBillingAccountResponse {
  @ApiProperty() ownerId!: string;
  @ApiProperty({ description: 'The Kill Bill account id' }) accountId!: string;
  @ApiProperty({ type: String, nullable: true }) subscriptionId!: string | null;
  @ApiProperty({ type: String, nullable: true }) planName!: string | null;
  @ApiProperty({ enum: STANDINGS }) standing!: string;
}

class UsageByDayResponse implements UsageByDay {
  @ApiProperty({ example: '2026-12-01' }) day!: string;
  @ApiProperty({ example: 'tokens', description: 'The billed unit' }) unit!: string;
  @ApiProperty() amount!: number;
}

export class UsageResponse {
  @ApiProperty({ format: 'date-time' }) from!: string;
  @ApiProperty({ format: 'date-time' }) to!: string;
  @ApiProperty({ type: [UsageByDayResponse] }) usage!: UsageByDayResponse[];
}

export class InvoiceResponse implements KillBillInvoice {
  @ApiProperty() invoiceId!: string;
  @ApiProperty() accountId!: string;
  @ApiPropertyOptional() invoiceNumber?: string;
  @ApiPropertyOptional() invoiceDate?: string;
  @ApiPropertyOptional() targetDate?: string;
  @ApiProperty({ example: 'USD' }) currency!: string;
  @ApiProperty() amount!: number;
  @ApiProperty({ description: 'What is left to pay' }) balance!: number;
  @ApiPropertyOptional({ example: 'COMMITTED' }) status?: string;
}

class PaymentTransactionResponse {
  @ApiProperty() transactionId!: string;
  @ApiProperty() transactionExternalKey!: string;
  @ApiProperty() paymentId!: string;
  @ApiProperty({ example: 'PURCHASE' }) transactionType!: string;
  @ApiProperty() amount!: number;
  @ApiProperty() currency!: string;
  @ApiProperty({ example: 'SUCCESS', description: 'SUCCESS, PENDING, PAYMENT_FAILURE, PLUGIN_FAILURE, UNKNOWN' })
  status!: string;
  @ApiPropertyOptional({ type: String, nullable: true }) gatewayErrorCode?: string | null;
  @ApiPropertyOptional({ type: String, nullable: true }) gatewayErrorMsg?: string | null;
}

export class PaymentResponse implements KillBillPayment {
  @ApiProperty() paymentId!: string;
  @ApiProperty() accountId!: string;
  @ApiPropertyOptional() paymentNumber?: string;
  @ApiPropertyOptional() paymentExternalKey?: string;
  @ApiProperty() paymentMethodId!: string;
  @ApiPropertyOptional() targetInvoiceId?: string;
  @ApiPropertyOptional() authAmount?: number;
  @ApiPropertyOptional() capturedAmount?: number;
  @ApiProperty() purchasedAmount!: number;
  @ApiProperty() currency!: string;
  @ApiProperty({ type: [PaymentTransactionResponse] }) transactions!: PaymentTransactionResponse[];
}

export class PaymentMethodResponse implements Omit<KillBillPaymentMethod, 'pluginInfo'> {
  @ApiProperty() paymentMethodId!: string;
  @ApiProperty() accountId!: string;
  @ApiPropertyOptional() externalKey?: string;
  @ApiProperty() isDefault!: boolean;
  @ApiProperty({ example: 'sovren-stripe' }) pluginName!: string;
}

class PaymentAttemptResponse implements Omit<PaymentAttemptResult, 'status'> {
  @ApiProperty() pluginName!: string;
  @ApiProperty() paymentMethodId!: string;
  @ApiProperty({ example: 'SUCCESS' }) status!: string;
  @ApiPropertyOptional() reason?: string;
  @ApiPropertyOptional() paymentId?: string;
}

export class InvoicePaymentResponse implements Omit<InvoicePaymentResult, 'attempts'> {
  @ApiProperty() invoiceId!: string;
  @ApiProperty({ description: 'Whether the balance is settled' }) paid!: boolean;
  @ApiProperty({ type: [PaymentAttemptResponse], description: 'Each payment method tried, in order' })
  attempts!: PaymentAttemptResponse[];
}

export class CatalogUploadResponse {
  @ApiProperty({ description: 'The catalog file that was uploaded' }) uploaded!: string;
}

export class NotificationAcceptedResponse {
  @ApiProperty({ enum: [true] }) accepted!: true;
}
