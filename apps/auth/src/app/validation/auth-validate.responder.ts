// Answers `auth.validate` on NATS (queue group `auth`, so several auth instances share the load). Thin: the
// payload is checked against its contract and handed to AuthValidationService. The NATS drain at shutdown
// ends the subscription.
import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import {
  AUTH_VALIDATE,
  AuthValidateReplyV1,
  AuthValidateRequestV1,
  NatsClient,
  parseAuthValidateRequestV1,
} from '@sovren/messaging';

import { AuthValidationService } from './auth-validation.service';

@Injectable()
export class AuthValidateResponder implements OnApplicationBootstrap {
  constructor(
    private readonly nats: NatsClient,
    private readonly validation: AuthValidationService,
  ) {}

  onApplicationBootstrap(): void {
    this.nats.respond<AuthValidateRequestV1, AuthValidateReplyV1>(
      AUTH_VALIDATE,
      (request) => this.validation.validate(request),
      { queue: 'auth', parse: parseAuthValidateRequestV1 },
    );
  }
}
