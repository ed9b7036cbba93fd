// The operator's requests on `auth.admin.*` (the `sovren` CLI, the dev launcher): users and API keys without any
// OAuth provider. Everything goes through auth's own services, as the HTTP API-key routes do (same hashing, cap on
// active keys, scope and premium rules, security notice); the operator acts as an admin who is no user of the
// platform. Bad input is refused before anything changes.
import { HttpStatus, Injectable, Logger } from '@nestjs/common';
import { ApiError, ApiErrorCode } from '@sovren/http';
import type {
  AdminApiKeyV1,
  AdminUserV1,
  AuthAdminKeyReplyV1,
  AuthAdminKeysCreateReplyV1,
  AuthAdminKeysCreateRequestV1,
  AuthAdminKeysListReplyV1,
  AuthAdminKeysListRequestV1,
  AuthAdminKeysRevokeRequestV1,
  AuthAdminUserReplyV1,
  AuthAdminUsersCreateRequestV1,
  AuthAdminUsersListReplyV1,
  AuthAdminUsersPromoteRequestV1,
} from '@sovren/messaging';

import { Actor, ApiKeyService, ApiKeyView } from '../api-keys/api-key.service';
import { SecurityNotices } from '../notifications/security-notices.service';
import { UserRecord, UsersRepository } from '../users/users.repository';

/** Who acts on `auth.admin.*`: the local operator, an admin that is not a platform user (no keys of its own). */
export const LOCAL_OPERATOR: Actor = Object.freeze({ userId: 'local-operator', role: 'admin' });

function userView(user: UserRecord): AdminUserV1 {
  return { id: user.id, email: user.email, displayName: user.displayName, role: user.role };
}

function keyView(key: ApiKeyView): AdminApiKeyV1 {
  return {
    id: key.id,
    userId: key.user_id,
    name: key.name,
    prefix: key.prefix,
    scopes: key.scopes,
    tier: key.tier,
    rateLimitPerHour: key.rate_limit_per_hour,
    createdAt: key.created_at,
    lastUsedAt: key.last_used_at,
    expiresAt: key.expires_at,
    revokedAt: key.revoked_at,
  };
}

@Injectable()
export class AuthAdminService {
  private readonly logger = new Logger(AuthAdminService.name);

  constructor(
    private readonly users: UsersRepository,
    private readonly apiKeys: ApiKeyService,
    private readonly notices: SecurityNotices,
  ) {}

  createUser(request: AuthAdminUsersCreateRequestV1): AuthAdminUserReplyV1 {
    if (this.users.findByEmail(request.email)) {
      throw new ApiError(HttpStatus.CONFLICT, ApiErrorCode.CONFLICT, `a user with email ${request.email} exists`);
    }
    const user = this.users.create({
      email: request.email,
      displayName: request.displayName ?? request.email.split('@')[0],
      role: request.role ?? 'admin',
    });
    this.logger.log({ msg: 'user created by the local operator', user_id: user.id, role: user.role });
    return { v: 1, user: userView(user) };
  }

  listUsers(): AuthAdminUsersListReplyV1 {
    return { v: 1, users: this.users.list().map(userView) };
  }

  promoteUser(request: AuthAdminUsersPromoteRequestV1): AuthAdminUserReplyV1 {
    const user = this.resolveUser(request.user);
    const role = request.role ?? 'admin';
    if (user.role !== role) {
      this.users.setRole(user.id, role);
      this.logger.log({ msg: 'role set by the local operator', user_id: user.id, from: user.role, to: role });
    }
    return { v: 1, user: userView({ ...user, role }) };
  }

  createKey(request: AuthAdminKeysCreateRequestV1): AuthAdminKeysCreateReplyV1 {
    const owner = this.resolveUser(request.user);
    const created = this.apiKeys.create(LOCAL_OPERATOR, {
      name: request.name,
      scopes: request.scopes,
      tier: request.tier,
      userId: owner.id,
      expiresAt: request.expiresAt === undefined ? undefined : Date.parse(request.expiresAt),
      ratePerHour: request.rateLimitPerHour,
    });
    this.notices.apiKeyCreated(created.user_id, created);
    this.logger.log({ msg: 'API key created by the local operator', user_id: owner.id, key_id: created.id });
    const { key, ...view } = created;
    return { v: 1, key, apiKey: keyView(view) };
  }

  listKeys(request: AuthAdminKeysListRequestV1): AuthAdminKeysListReplyV1 {
    const owners = request.user === undefined ? this.users.list() : [this.resolveUser(request.user)];
    return {
      v: 1,
      keys: owners.flatMap((owner) => this.apiKeys.list(LOCAL_OPERATOR, owner.id)).map(keyView),
    };
  }

  revokeKey(request: AuthAdminKeysRevokeRequestV1): AuthAdminKeyReplyV1 {
    const revoked = this.apiKeys.revoke(LOCAL_OPERATOR, request.id);
    this.logger.log({ msg: 'API key revoked by the local operator', key_id: revoked.id, user_id: revoked.user_id });
    return { v: 1, apiKey: keyView(revoked) };
  }

  /** A user named by email (it holds an `@`) or by id. */
  private resolveUser(idOrEmail: string): UserRecord {
    const user = idOrEmail.includes('@') ? this.users.findByEmail(idOrEmail) : this.users.findById(idOrEmail);
    if (!user) throw new ApiError(HttpStatus.NOT_FOUND, ApiErrorCode.NOT_FOUND, `user ${idOrEmail} does not exist`);
    return user;
  }
}
