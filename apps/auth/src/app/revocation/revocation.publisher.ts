// Announces revocations on `auth.revoked` so every service's guard drops its cached validations at once.
// The revocation itself is already in api_auth.db when this runs: if NATS is down the event is lost, but
// auth.validate refuses the credential anyway and guard caches expire within seconds. auth's own guard cache is
// cleared directly (and auth.validate's own credential cache), so auth never depends on the event's round trip.
import { Injectable, Logger } from '@nestjs/common';
import { ValidationCache } from '@sovren/auth-guard';
import { AUTH_REVOKED, AuthRevokedKind, AuthRevokedV1, NatsClient } from '@sovren/messaging';
import { errorMessage } from '@sovren/resilience';

import { CredentialLookupCache } from '../validation/credential-lookup.cache';

@Injectable()
export class RevocationPublisher {
  private readonly logger = new Logger(RevocationPublisher.name);

  constructor(
    private readonly nats: NatsClient,
    private readonly localCache: ValidationCache,
    private readonly credentials: CredentialLookupCache,
  ) {}

  announce(kind: AuthRevokedKind, id: string, userId: string): void {
    const event: AuthRevokedV1 = { v: 1, kind, id, userId, revokedAt: new Date().toISOString() };
    this.credentials.revoke(event);
    this.localCache.revoke(event);
    try {
      this.nats.publish(AUTH_REVOKED, event);
    } catch (error) {
      this.logger.error({
        msg: 'could not publish auth.revoked; guards will drop the credential when their cache expires',
        kind,
        id,
        err: errorMessage(error),
      });
    }
  }
}
