// /api/v1/billing: the signed-in owner's billing (account, usage, invoices, payments, plan, payment methods) and
// the admin views of any owner. Thin: translate HTTP, delegate, map Kill Bill failures to the envelope.
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Inject,
  Param,
  ParseUUIDPipe,
  Post,
  Put,
  Query,
} from '@nestjs/common';
import {
  ApiBadGatewayResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { AuthRoute, CurrentAuth, type RequestAuth } from '@sovren/auth-guard';
import { ApiError, ApiErrorCode } from '@sovren/http';
import { KillBillClient } from '@sovren/killbill';
import { readFileSync } from 'node:fs';
import { errorMessage } from '@sovren/resilience';

import { BillingAccountsService } from '../accounts/billing-accounts.service';
import { BILLING_ENV, BillingEnv } from '../billing-config/billing.env';
import { viaKillBill } from '../killbill-error.mapper';
import { PaymentsService } from '../payments/payments.service';
import { BillingApiService } from './billing-api.service';
import { BILLING_PLANS } from './billing-plans';
import { AddPaymentMethodDto, ChangePlanDto, OwnerParam, PayInvoiceDto, UsageQuery } from './dtos/billing.dtos';
import {
  AdminBillingAccountResponse,
  BillingAccountResponse,
  BillingPlanResponse,
  CatalogUploadResponse,
  InvoicePaymentResponse,
  InvoiceResponse,
  PaymentMethodResponse,
  PaymentResponse,
  UsageResponse,
} from './dtos/billing.responses';

const KILL_BILL_FAILED = {
  description: 'Kill Bill refused or could not be reached (BAD_GATEWAY, or SERVICE_UNAVAILABLE while it is down).',
  schema: { $ref: '#/components/schemas/ApiErrorEnvelope' },
};

export const BILLING_ROUTE_CLASS = 'billing';

function ownerOf(auth: RequestAuth | undefined): string {
  const userId = auth?.identity.userId;
  if (!userId) throw new ApiError(HttpStatus.UNAUTHORIZED, ApiErrorCode.UNAUTHORIZED, 'sign in to see your billing');
  return userId;
}

@ApiTags('billing')
@ApiBadGatewayResponse(KILL_BILL_FAILED)
@Controller('api/v1/billing')
export class BillingController {
  constructor(
    private readonly api: BillingApiService,
    private readonly accounts: BillingAccountsService,
    private readonly payments: PaymentsService,
  ) {}

  @Get('plans')
  @ApiOperation({ summary: 'The plans on offer, one per platform tier' })
  @ApiOkResponse({ description: 'The plans.', type: [BillingPlanResponse] })
  @AuthRoute({ routeClass: BILLING_ROUTE_CLASS, scopes: ['billing:read'] })
  plans() {
    return BILLING_PLANS;
  }

  @Get('account')
  @ApiOperation({ summary: 'Your billing account (opened on first use) and its standing' })
  @ApiOkResponse({ description: 'The account.', type: BillingAccountResponse })
  @AuthRoute({ routeClass: BILLING_ROUTE_CLASS, scopes: ['billing:read'] })
  account(@CurrentAuth() auth: RequestAuth | undefined) {
    return viaKillBill(() => this.api.account(ownerOf(auth)));
  }

  @Get('usage')
  @ApiOperation({ summary: 'Your recorded usage per unit and day' })
  @ApiOkResponse({ description: 'Usage in the range (default the last 30 days).', type: UsageResponse })
  @AuthRoute({ routeClass: BILLING_ROUTE_CLASS, scopes: ['billing:read'] })
  usage(@CurrentAuth() auth: RequestAuth | undefined, @Query() query: UsageQuery) {
    return this.api.usage(ownerOf(auth), query);
  }

  @Get('invoices')
  @ApiOperation({ summary: 'Your invoices' })
  @ApiOkResponse({ description: 'Invoices from Kill Bill.', type: [InvoiceResponse] })
  @AuthRoute({ routeClass: BILLING_ROUTE_CLASS, scopes: ['billing:read'] })
  invoices(@CurrentAuth() auth: RequestAuth | undefined) {
    return viaKillBill(() => this.api.invoices(ownerOf(auth)));
  }

  @Get('payments')
  @ApiOperation({ summary: 'Your payments' })
  @ApiOkResponse({ description: 'Payments from Kill Bill.', type: [PaymentResponse] })
  @AuthRoute({ routeClass: BILLING_ROUTE_CLASS, scopes: ['billing:read'] })
  paymentsList(@CurrentAuth() auth: RequestAuth | undefined) {
    return viaKillBill(() => this.api.payments(ownerOf(auth)));
  }

  @Put('subscription')
  @ApiOperation({ summary: 'Change your plan' })
  @ApiOkResponse({ description: 'The account on its new plan.', type: BillingAccountResponse })
  @AuthRoute({ routeClass: BILLING_ROUTE_CLASS, scopes: ['billing:write'] })
  changePlan(@CurrentAuth() auth: RequestAuth | undefined, @Body() dto: ChangePlanDto) {
    return viaKillBill(() => this.accounts.changePlan(ownerOf(auth), dto.plan));
  }

  @Delete('subscription')
  @ApiOperation({ summary: 'Cancel your subscription' })
  @ApiNoContentResponse({ description: 'Cancelled (or there was none).' })
  @AuthRoute({ routeClass: BILLING_ROUTE_CLASS, scopes: ['billing:write'] })
  @HttpCode(HttpStatus.NO_CONTENT)
  async cancel(@CurrentAuth() auth: RequestAuth | undefined): Promise<void> {
    await viaKillBill(() => this.accounts.cancel(ownerOf(auth)));
  }

  @Post('payment-methods')
  @ApiOperation({ summary: 'Add a payment method from a gateway token (never card data)' })
  @ApiCreatedResponse({ description: 'The payment method in Kill Bill.', type: PaymentMethodResponse })
  @AuthRoute({ routeClass: BILLING_ROUTE_CLASS, scopes: ['billing:write'] })
  addPaymentMethod(@CurrentAuth() auth: RequestAuth | undefined, @Body() dto: AddPaymentMethodDto) {
    return viaKillBill(() =>
      this.payments.addPaymentMethod(ownerOf(auth), dto.provider, dto.token, dto.isDefault ?? false),
    );
  }

  @Put('payment-methods/:id/default')
  @ApiOperation({ summary: 'Make a payment method the default' })
  @ApiNoContentResponse({ description: 'Done.' })
  @AuthRoute({ routeClass: BILLING_ROUTE_CLASS, scopes: ['billing:write'] })
  @HttpCode(HttpStatus.NO_CONTENT)
  async setDefault(
    @CurrentAuth() auth: RequestAuth | undefined,
    @Param('id', new ParseUUIDPipe()) id: string,
  ): Promise<void> {
    await viaKillBill(() => this.payments.setDefault(ownerOf(auth), id));
  }

  @Post('invoices/:id/payments')
  @ApiOperation({ summary: 'Pay an invoice (all or part of its balance), trying each payment method in turn' })
  @ApiCreatedResponse({ description: 'The outcome of each attempt.', type: InvoicePaymentResponse })
  @AuthRoute({ routeClass: BILLING_ROUTE_CLASS, scopes: ['billing:write'] })
  pay(
    @CurrentAuth() auth: RequestAuth | undefined,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() dto: PayInvoiceDto,
  ) {
    return viaKillBill(() => this.payments.payInvoice(ownerOf(auth), id, { amount: dto.amount }));
  }
}

/** Admin views of any owner (user or organisation id) and the catalog upload. */
@AuthRoute({ routeClass: BILLING_ROUTE_CLASS, roles: ['admin'], scopes: ['billing:admin'] })
@ApiTags('billing-admin')
@ApiBadGatewayResponse(KILL_BILL_FAILED)
@Controller('api/v1/billing/admin')
export class BillingAdminController {
  constructor(
    private readonly api: BillingApiService,
    private readonly killbill: KillBillClient,
    @Inject(BILLING_ENV) private readonly env: BillingEnv,
  ) {}

  @Get('owners/:ownerId/account')
  @ApiOperation({ summary: "Any owner's billing account (never opens one)" })
  @ApiParam({ name: 'ownerId', description: 'A user or organization id' })
  @ApiOkResponse({ description: 'The account.', type: AdminBillingAccountResponse })
  account(@Param() params: OwnerParam) {
    return this.api.existingAccount(params.ownerId);
  }

  @Get('owners/:ownerId/usage')
  @ApiOperation({ summary: "Any owner's recorded usage per unit and day" })
  @ApiParam({ name: 'ownerId', description: 'A user or organization id' })
  @ApiOkResponse({ description: 'Usage in the range.', type: UsageResponse })
  usage(@Param() params: OwnerParam, @Query() query: UsageQuery) {
    return this.api.usage(params.ownerId, query);
  }

  @Get('owners/:ownerId/invoices')
  @ApiOperation({ summary: "Any owner's invoices" })
  @ApiParam({ name: 'ownerId', description: 'A user or organization id' })
  @ApiOkResponse({ description: 'Invoices from Kill Bill.', type: [InvoiceResponse] })
  async invoices(@Param() params: OwnerParam) {
    await this.api.requireKnown(params.ownerId);
    return viaKillBill(() => this.api.invoices(params.ownerId));
  }

  @Get('owners/:ownerId/payments')
  @ApiOperation({ summary: "Any owner's payments" })
  @ApiParam({ name: 'ownerId', description: 'A user or organization id' })
  @ApiOkResponse({ description: 'Payments from Kill Bill.', type: [PaymentResponse] })
  async payments(@Param() params: OwnerParam) {
    await this.api.requireKnown(params.ownerId);
    return viaKillBill(() => this.api.payments(params.ownerId));
  }

  /** Uploads the repository's catalog (SOVREN_BILLING_CATALOG_PATH) to Kill Bill. */
  @Post('catalog')
  @ApiOperation({ summary: "Upload the repository's catalog (SOVREN_BILLING_CATALOG_PATH) to Kill Bill" })
  @ApiOkResponse({ description: 'Uploaded.', type: CatalogUploadResponse })
  @HttpCode(HttpStatus.OK)
  async uploadCatalog(): Promise<{ uploaded: string }> {
    let xml: string;
    try {
      xml = readFileSync(this.env.SOVREN_BILLING_CATALOG_PATH, 'utf8');
    } catch (error) {
      throw new ApiError(
        HttpStatus.INTERNAL_SERVER_ERROR,
        ApiErrorCode.INTERNAL,
        `cannot read the catalog ${this.env.SOVREN_BILLING_CATALOG_PATH}: ${errorMessage(error)}`,
      );
    }
    await viaKillBill(() => this.killbill.uploadCatalogXml(xml, { reason: 'catalog upload by an admin' }));
    return { uploaded: this.env.SOVREN_BILLING_CATALOG_PATH };
  }
}
