// Answers the operator's `auth.admin.*` requests on NATS (queue group `auth`). Only the NATS user `cli` may send
// them (tools/nats/nats-permissions.mjs). Each payload is checked against its contract first: a bad one gets an
// INVALID_PAYLOAD error reply and changes nothing.
import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import {
  AUTH_ADMIN_KEYS_CREATE,
  AUTH_ADMIN_KEYS_LIST,
  AUTH_ADMIN_KEYS_REVOKE,
  AUTH_ADMIN_USERS_CREATE,
  AUTH_ADMIN_USERS_LIST,
  AUTH_ADMIN_USERS_PROMOTE,
  NatsClient,
  parseAuthAdminKeysCreateRequestV1,
  parseAuthAdminKeysListRequestV1,
  parseAuthAdminKeysRevokeRequestV1,
  parseAuthAdminUsersCreateRequestV1,
  parseAuthAdminUsersListRequestV1,
  parseAuthAdminUsersPromoteRequestV1,
} from '@sovren/messaging';

import { AuthAdminService } from './auth-admin.service';

const QUEUE = 'auth';

@Injectable()
export class AuthAdminResponder implements OnApplicationBootstrap {
  constructor(
    private readonly nats: NatsClient,
    private readonly admin: AuthAdminService,
  ) {}

  onApplicationBootstrap(): void {
    this.nats.respond(AUTH_ADMIN_USERS_CREATE, (request) => this.admin.createUser(request), {
      queue: QUEUE,
      parse: parseAuthAdminUsersCreateRequestV1,
    });
    this.nats.respond(AUTH_ADMIN_USERS_LIST, () => this.admin.listUsers(), {
      queue: QUEUE,
      parse: parseAuthAdminUsersListRequestV1,
    });
    this.nats.respond(AUTH_ADMIN_USERS_PROMOTE, (request) => this.admin.promoteUser(request), {
      queue: QUEUE,
      parse: parseAuthAdminUsersPromoteRequestV1,
    });
    this.nats.respond(AUTH_ADMIN_KEYS_CREATE, (request) => this.admin.createKey(request), {
      queue: QUEUE,
      parse: parseAuthAdminKeysCreateRequestV1,
    });
    this.nats.respond(AUTH_ADMIN_KEYS_LIST, (request) => this.admin.listKeys(request), {
      queue: QUEUE,
      parse: parseAuthAdminKeysListRequestV1,
    });
    this.nats.respond(AUTH_ADMIN_KEYS_REVOKE, (request) => this.admin.revokeKey(request), {
      queue: QUEUE,
      parse: parseAuthAdminKeysRevokeRequestV1,
    });
  }
}
