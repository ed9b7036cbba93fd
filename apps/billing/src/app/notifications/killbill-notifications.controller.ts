// POST /api/v1/billing/killbill/notifications/:token — Kill Bill's push notification callback. No user credential
// exists here (Kill Bill calls it), so the secret token in the path is the gate; anything else gets 404. The body
// is checked, the answer is immediate, and the work happens afterwards (KillBillNotificationsService).
import { Body, Controller, HttpCode, HttpStatus, Inject, Logger, Param, Post } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiError, ApiErrorCode } from '@sovren/http';
import { timingSafeEqual } from 'node:crypto';

import { BILLING_ENV, BillingEnv } from '../billing-config/billing.env';
import { NotificationAcceptedResponse } from '../api/dtos/billing.responses';
import { KillBillNotificationDto } from './killbill-notification.dto';
import { KillBillNotificationsService, NOTIFICATION_ROUTE } from './killbill-notifications.service';

@ApiTags('killbill')
@Controller(NOTIFICATION_ROUTE)
export class KillBillNotificationsController {
  private readonly logger = new Logger(KillBillNotificationsController.name);

  constructor(
    private readonly notifications: KillBillNotificationsService,
    @Inject(BILLING_ENV) private readonly env: BillingEnv,
  ) {}

  @Post(':token')
  @ApiOperation({
    summary: "Kill Bill's push notification callback (the secret token in the path is the gate)",
    description: 'Called by Kill Bill only; answered at once, the work happens afterwards.',
  })
  @ApiParam({ name: 'token', description: 'SOVREN_BILLING_NOTIFICATION_TOKEN' })
  @ApiOkResponse({ description: 'Accepted.', type: NotificationAcceptedResponse })
  @ApiNotFoundResponse({ description: 'Wrong token.', schema: { $ref: '#/components/schemas/ApiErrorEnvelope' } })
  @HttpCode(HttpStatus.OK)
  receive(@Param('token') token: string, @Body() body: KillBillNotificationDto): { accepted: true } {
    if (!this.tokenMatches(token)) {
      this.logger.warn({ msg: 'Kill Bill notification with a wrong token refused', event: body.eventType });
      throw new ApiError(HttpStatus.NOT_FOUND, ApiErrorCode.NOT_FOUND, 'no such resource');
    }
    this.notifications.accept({
      eventType: body.eventType,
      accountId: body.accountId ?? null,
      objectType: body.objectType,
      objectId: body.objectId ?? null,
      metaData: body.metaData ?? null,
    });
    return { accepted: true };
  }

  private tokenMatches(token: string): boolean {
    const expected = this.env.SOVREN_BILLING_NOTIFICATION_TOKEN;
    if (!expected) return false;
    const a = Buffer.from(token);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
