// The billing service's own environment variables (Kill Bill connection, usage consumer, payments, push
// notifications), validated at start-up; secrets are never echoed in error messages.
import { IsIntegerInRange, IsUrlWithScheme, SecretVariable, ToInteger } from '@sovren/config';
import { IsOptional, Length, Matches } from 'class-validator';

export class BillingEnv {
  /** Kill Bill's origin; its host:port must also be on SOVREN_EGRESS_ALLOWLIST. */
  @IsUrlWithScheme(['http:', 'https:'])
  SOVREN_KILLBILL_URL = 'http://localhost:8080';

  @Length(1, 128, { message: 'must be the Kill Bill tenant API key' })
  SOVREN_KILLBILL_API_KEY = 'sovren';

  @SecretVariable()
  @Length(1, 256, { message: 'must be the Kill Bill tenant API secret' })
  SOVREN_KILLBILL_API_SECRET = '';

  @Length(1, 128, { message: 'must be the Kill Bill user name' })
  SOVREN_KILLBILL_USERNAME = 'admin';

  @SecretVariable()
  @Length(1, 256, { message: 'must be the Kill Bill password' })
  SOVREN_KILLBILL_PASSWORD = '';

  /** X-Killbill-CreatedBy of every write billing makes. */
  @Length(1, 64)
  SOVREN_KILLBILL_CREATED_BY = 'sovren-billing';

  @ToInteger()
  @IsIntegerInRange(100, 120_000)
  SOVREN_KILLBILL_TIMEOUT_MS = 10_000;

  /** Currency of new Kill Bill accounts (ISO 4217). */
  @Matches(/^[A-Z]{3}$/, { message: 'must be an ISO 4217 currency code such as USD' })
  SOVREN_BILLING_CURRENCY = 'USD';

  /** Plan every owner is subscribed to when its account is created (a plan of deploy/killbill/catalog.xml). */
  @Length(1, 64)
  SOVREN_BILLING_DEFAULT_PLAN = 'sovren-free-monthly';

  /** The Kill Bill catalog the admin upload sends (deploy/killbill/catalog.xml of the installed release). */
  @Length(1, 4096)
  SOVREN_BILLING_CATALOG_PATH = 'deploy/killbill/catalog.xml';

  /** How long the usage consumer gathers events before recording one aggregate per subscription (ms). */
  @ToInteger()
  @IsIntegerInRange(10, 60_000)
  SOVREN_BILLING_USAGE_WINDOW_MS = 1_000;

  /** At most this many usage events are held in memory at once (the rest waits on the stream). */
  @ToInteger()
  @IsIntegerInRange(1, 10_000)
  SOVREN_BILLING_USAGE_MAX_BATCH = 500;

  /** Owners whose usage is batched and sent to Kill Bill at the same time (owners never share a batch). */
  @ToInteger()
  @IsIntegerInRange(1, 64)
  SOVREN_BILLING_USAGE_CONCURRENCY = 8;

  /**
   * Longest wait (ms) between attempts while an owner's usage cannot be recorded (its account calls or records
   * fail) or Kill Bill refuses billing's credentials; waits grow from 250 ms up to this.
   */
  @ToInteger()
  @IsIntegerInRange(10, 3_600_000)
  SOVREN_BILLING_USAGE_RETRY_MAX_MS = 60_000;

  /**
   * How long (ms) after sending a usage record without an answer (timeout, 5xx, crash) billing waits before
   * looking it up in Kill Bill and, only if it is not there, sending it again: longer than Kill Bill could still be
   * writing the first request.
   */
  @ToInteger()
  @IsIntegerInRange(100, 3_600_000)
  SOVREN_BILLING_USAGE_LOOKUP_AFTER_MS = 60_000;

  /** Kill Bill payment plugin of the primary gateway. */
  @Length(1, 128)
  SOVREN_BILLING_PRIMARY_PLUGIN = 'killbill-stripe';

  /** Kill Bill payment plugin of the fallback gateway (a Zoho Payments plugin; see docs/billing.md). */
  @Length(1, 128)
  SOVREN_BILLING_FALLBACK_PLUGIN = 'killbill-zoho';

  /** Consecutive failed invoice payments (both gateways) after which the owner is downgraded. */
  @ToInteger()
  @IsIntegerInRange(1, 100)
  SOVREN_BILLING_DOWNGRADE_AFTER_FAILURES = 1;

  /**
   * Where Kill Bill reaches this service for push notifications (the callback URL is
   * <this>/api/v1/billing/killbill/notifications/<token>); unset: no callback is registered.
   */
  @IsOptional()
  @IsUrlWithScheme(['http:', 'https:'])
  SOVREN_BILLING_PUBLIC_URL?: string;

  /** Secret path token of the notification callback (Kill Bill notifications are unsigned). */
  @IsOptional()
  @SecretVariable()
  @Matches(/^[A-Za-z0-9_-]{32,128}$/, { message: 'must be 32-128 characters of A-Z, a-z, 0-9, _ or -' })
  SOVREN_BILLING_NOTIFICATION_TOKEN?: string;
}

export const BILLING_ENV = Symbol('BILLING_ENV');
