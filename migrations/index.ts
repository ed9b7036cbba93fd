// @sovren/migrations: the explicit, ordered migration list of every database (no glob discovery).
// Add a migration: create `<database>/<timestamp>-<what>.ts` (class name ending in the same timestamp) and append it here.

import type { MigrationInterface } from 'typeorm';
import { ApiAuthInitialSchema1767225600000 } from './api_auth/1767225600000-api-auth-initial-schema';
import { SessionsApiKeysRateLimits1767312000000 } from './api_auth/1767312000000-sessions-api-keys-rate-limits';
import { BillingDowngradedApiKeys1767398400000 } from './api_auth/1767398400000-billing-downgraded-api-keys';
import { BillingDowngradedOwners1767484800000 } from './api_auth/1767484800000-billing-downgraded-owners';
import { SessionRefreshGrace1767571216000 } from './api_auth/1767571216000-session-refresh-grace';
import { LoginAttemptsBounds1767571218000 } from './api_auth/1767571218000-login-attempts-bounds';
import { ApiKeyRateLimit1767657600000 } from './api_auth/1767657600000-api-key-rate-limit';
import { ApplicationsInitialSchema1767225600000 } from './applications/1767225600000-applications-initial-schema';
import { VoiceApplications1767744001000 } from './applications/1767744001000-voice-applications';
import { VoiceAgentSettings1767744005000 } from './applications/1767744005000-voice-agent-settings';
import { PhoneNumbersInitialSchema1767225600000 } from './phone_numbers/1767225600000-phone-numbers-initial-schema';
import { PhoneNumbersAndRouting1767744000000 } from './phone_numbers/1767744000000-phone-numbers-and-routing';
import { AuditLogAndOrganizations1767225600000 } from './postgres/1767225600000-audit-log-and-organizations';
import { MonitoringAlertEvents1767312007000 } from './postgres/1767312007000-monitoring-alert-events';
import { BillingAccountsAndUsageLedger1767398400000 } from './postgres/1767398400000-billing-accounts-and-usage-ledger';
import { BillingUsageBatchSentAt1767657600000 } from './postgres/1767657600000-billing-usage-batch-sent-at';
import { VoiceCalls1767744002000 } from './postgres/1767744002000-voice-calls';
import { VoiceRecordings1767744003000 } from './postgres/1767744003000-voice-recordings';
import { VoiceCallTranscripts1767744004000 } from './postgres/1767744004000-voice-call-transcripts';
import { UsersInitialSchema1767225600000 } from './users/1767225600000-users-initial-schema';
import { UsersIdentitiesAndRoles1767312000000 } from './users/1767312000000-users-identities-and-roles';

export type MigrationClass = new () => MigrationInterface;

export const postgresMigrations: MigrationClass[] = [
  AuditLogAndOrganizations1767225600000,
  MonitoringAlertEvents1767312007000,
  BillingAccountsAndUsageLedger1767398400000,
  BillingUsageBatchSentAt1767657600000,
  VoiceCalls1767744002000,
  VoiceRecordings1767744003000,
  VoiceCallTranscripts1767744004000,
];

export const usersMigrations: MigrationClass[] = [
  UsersInitialSchema1767225600000,
  UsersIdentitiesAndRoles1767312000000,
];
export const apiAuthMigrations: MigrationClass[] = [
  ApiAuthInitialSchema1767225600000,
  SessionsApiKeysRateLimits1767312000000,
  BillingDowngradedApiKeys1767398400000,
  BillingDowngradedOwners1767484800000,
  SessionRefreshGrace1767571216000,
  LoginAttemptsBounds1767571218000,
  ApiKeyRateLimit1767657600000,
];
export const applicationsMigrations: MigrationClass[] = [
  ApplicationsInitialSchema1767225600000,
  VoiceApplications1767744001000,
  VoiceAgentSettings1767744005000,
];
export const phoneNumbersMigrations: MigrationClass[] = [
  PhoneNumbersInitialSchema1767225600000,
  PhoneNumbersAndRouting1767744000000,
];

/** Keyed by SQLite database name (the file `<name>.db`). */
export const sqliteMigrations = {
  users: usersMigrations,
  api_auth: apiAuthMigrations,
  applications: applicationsMigrations,
  phone_numbers: phoneNumbersMigrations,
} as const satisfies Record<string, MigrationClass[]>;
