// Security notices to a user's verified email: a sign-in from a device not seen before, a sign-in method linked
// to the account, a new API key. A user
// without a verified email gets none; sending is @sovren/mail's background job.
import { Injectable, Logger } from '@nestjs/common';
import { MailSender } from '@sovren/mail';

import { UsersRepository } from '../users/users.repository';

@Injectable()
export class SecurityNotices {
  private readonly logger = new Logger(SecurityNotices.name);

  constructor(
    private readonly users: UsersRepository,
    private readonly mail: MailSender,
  ) {}

  newDeviceSignIn(userId: string, details: { provider: string; userAgent?: string; ip?: string }): void {
    const email = this.emailOf(userId, 'new_device');
    if (!email) return;
    this.mail.send({
      kind: 'new_device',
      to: email,
      subject: 'New sign-in to your SOVREN account',
      text: [
        'Your SOVREN account was just signed in to from a device we had not seen before.',
        '',
        `Provider: ${details.provider}`,
        `Device: ${details.userAgent ?? 'unknown'}`,
        `Address: ${details.ip ?? 'unknown'}`,
        `Time: ${new Date().toISOString()}`,
        '',
        'If this was not you, sign out everywhere and revoke your API keys.',
      ].join('\n'),
    });
  }

  identityLinked(
    userId: string,
    details: { provider: string; identityEmail: string | null; userAgent?: string; ip?: string },
  ): void {
    const email = this.emailOf(userId, 'identity_linked');
    if (!email) return;
    this.mail.send({
      kind: 'identity_linked',
      to: email,
      subject: 'A new sign-in method was linked to your SOVREN account',
      text: [
        `A ${details.provider} account was just linked to your SOVREN account: it can now be used to sign in.`,
        '',
        `Provider: ${details.provider}`,
        `Account: ${details.identityEmail ?? '(no verified email)'}`,
        `Device: ${details.userAgent ?? 'unknown'}`,
        `Address: ${details.ip ?? 'unknown'}`,
        `Time: ${new Date().toISOString()}`,
        '',
        'If this was not you, sign out everywhere and contact your administrator.',
      ].join('\n'),
    });
  }

  apiKeyCreated(userId: string, key: { name: string; prefix: string; scopes: string[]; tier: string }): void {
    const email = this.emailOf(userId, 'api_key_created');
    if (!email) return;
    this.mail.send({
      kind: 'api_key_created',
      to: email,
      subject: 'A new API key was created for your SOVREN account',
      text: [
        'A new API key was created for your SOVREN account.',
        '',
        `Name: ${key.name}`,
        `Key prefix: ${key.prefix}`,
        `Scopes: ${key.scopes.length > 0 ? key.scopes.join(', ') : '(none)'}`,
        `Tier: ${key.tier}`,
        `Time: ${new Date().toISOString()}`,
        '',
        'If you did not create it, revoke it now.',
      ].join('\n'),
    });
  }

  private emailOf(userId: string, kind: string): string | undefined {
    try {
      return this.users.findById(userId)?.email ?? undefined;
    } catch (error) {
      this.logger.error({
        msg: 'could not look up the user for a security notice',
        kind,
        user_id: userId,
        err: String(error),
      });
      return undefined;
    }
  }
}
