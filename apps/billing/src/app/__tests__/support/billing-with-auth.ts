// Test support: the real billing app in this process, guarded for real: its auth guard calls auth.validate over
// the billing environment's NATS server, where the auth.validate stand-in (@sovren/messaging/testing) answers
// for an ordinary user with an API key, a second one, and an admin with a session — as auth would.
import { AuthValidateResponder } from '@sovren/messaging/testing';
import { call } from '@sovren/testing';

import { startBillingApp, type RunningBilling } from './billing-test-app';
import { createBillingTestEnvironment, type BillingTestEnvironment } from './billing-test-environment';

export type { HttpAnswer } from '@sovren/testing';

/** What an ordinary user's key carries for billing: read and change its own billing. */
const OWNER_SCOPES = ['billing:read', 'billing:write'];
/** What an admin's session carries for billing. */
const ADMIN_SCOPES = ['billing:read', 'billing:write', 'billing:admin'];

export interface BillingWithAuth {
  environment: BillingTestEnvironment;
  billing: RunningBilling;
  /** Answers auth.validate on the environment's NATS server. */
  auth: AuthValidateResponder;
  /** An ordinary user (a billing owner) and its API key. */
  userId: string;
  apiKey: string;
  /** A second ordinary user, never billed before the tests make it so. */
  otherUserId: string;
  otherApiKey: string;
  /** A session token of an admin. */
  adminToken: string;
  /** The envelope HTTP client: status, headers and the parsed envelope. */
  call: typeof call;
  dispose(): Promise<void>;
}

export async function startBillingWithAuth(): Promise<BillingWithAuth> {
  const environment = await createBillingTestEnvironment();
  const auth = await AuthValidateResponder.start(environment.nats.url);
  const user = auth.apiKey({ scopes: OWNER_SCOPES });
  const other = auth.apiKey({ scopes: OWNER_SCOPES });
  const admin = auth.session({ role: 'admin', scopes: ADMIN_SCOPES });
  const billing = await startBillingApp(environment.env);
  return {
    call,
    environment,
    billing,
    auth,
    userId: user.userId,
    apiKey: user.credential,
    otherUserId: other.userId,
    otherApiKey: other.credential,
    adminToken: admin.credential,
    dispose: async () => {
      await billing.close();
      await auth.close();
      await environment.dispose();
    },
  };
}
