// /api/v1/voice/numbers: our Skyetel numbers (synced), the search for available ones, ordering, releasing, and the
// application each routes to. Thin: validate, delegate.
import {
  Body,
  Controller,
  DefaultValuePipe,
  Delete,
  Get,
  HttpStatus,
  Param,
  ParseIntPipe,
  Post,
  Put,
  Query,
} from '@nestjs/common';
import {
  ApiBadGatewayResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { AuthRoute, CurrentAuth, type RequestAuth } from '@sovren/auth-guard';
import { ApiError, ApiErrorCode } from '@sovren/http';

import { VOICE_ROUTE_CLASS } from '../calls/calls.controller';
import {
  AssignApplicationDto,
  AvailableNumberListResponse,
  E164,
  PhoneNumberListResponse,
  PhoneNumberResponse,
  PurchaseNumberDto,
} from './dtos/numbers.dto';
import { NumbersService, type NumberCaller } from './numbers.service';
import type { PhoneNumberRow } from './phone-numbers.repository';

function ownerOf(auth: RequestAuth | undefined): string {
  const userId = auth?.identity.userId;
  if (!userId) throw new ApiError(HttpStatus.UNAUTHORIZED, ApiErrorCode.UNAUTHORIZED, 'sign in to manage numbers');
  return userId;
}

function callerOf(auth: RequestAuth | undefined): NumberCaller {
  return { userId: ownerOf(auth), admin: auth?.identity.role === 'admin' };
}

function e164Param(number: string): string {
  if (!E164.test(number)) {
    throw new ApiError(
      HttpStatus.BAD_REQUEST,
      ApiErrorCode.VALIDATION_FAILED,
      'number must be an E.164 number such as +14155550101 (URL-encode the + as %2B)',
    );
  }
  return number;
}

function view(row: PhoneNumberRow): PhoneNumberResponse {
  return {
    number: row.number,
    applicationId: row.applicationId,
    carrierId: row.carrierId,
    status: row.status,
    syncedAt: row.syncedAt,
  };
}

@ApiTags('numbers')
@ApiBearerAuth()
@Controller('api/v1/voice/numbers')
@AuthRoute({ routeClass: VOICE_ROUTE_CLASS, scopes: ['voice:numbers'] })
@ApiServiceUnavailableResponse({
  description: 'Skyetel credentials not configured, refused, or Skyetel rate limiting.',
})
@ApiBadGatewayResponse({ description: 'Skyetel did not answer properly.' })
export class NumbersController {
  constructor(private readonly numbers: NumbersService) {}

  @Get()
  @ApiOperation({
    summary: "Your phone numbers, synced from Skyetel (admins also see the synced numbers that are nobody's yet)",
  })
  @ApiQuery({
    name: 'sync',
    required: false,
    schema: { type: 'boolean', default: false },
    description: 'pull from Skyetel first',
  })
  @ApiOkResponse({ description: 'Active numbers, by number.', type: PhoneNumberListResponse })
  async list(
    @CurrentAuth() auth: RequestAuth | undefined,
    @Query('sync') sync?: string,
  ): Promise<PhoneNumberListResponse> {
    if (sync !== undefined && sync !== 'true' && sync !== 'false') {
      throw new ApiError(HttpStatus.BAD_REQUEST, ApiErrorCode.VALIDATION_FAILED, 'sync must be true or false');
    }
    const rows = await this.numbers.list(callerOf(auth), sync === 'true');
    return { numbers: rows.map(view) };
  }

  @Get('available')
  @ApiOperation({ summary: 'Numbers Skyetel offers in a North American area code' })
  @ApiQuery({ name: 'area_code', required: true, example: '415', description: 'three digits, 2-9 first' })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 50, default: 10 } })
  @ApiOkResponse({ description: 'Numbers that can be ordered now.', type: AvailableNumberListResponse })
  async available(
    @CurrentAuth() auth: RequestAuth | undefined,
    @Query('area_code') areaCode: string | undefined,
    @Query('limit', new DefaultValuePipe(10), new ParseIntPipe({ errorHttpStatusCode: HttpStatus.BAD_REQUEST }))
    limit: number,
  ): Promise<AvailableNumberListResponse> {
    ownerOf(auth);
    if (typeof areaCode !== 'string' || !/^[2-9]\d{2}$/.test(areaCode)) {
      throw new ApiError(
        HttpStatus.BAD_REQUEST,
        ApiErrorCode.VALIDATION_FAILED,
        'area_code must be three digits, 2-9 first',
      );
    }
    if (limit < 1 || limit > 50) {
      throw new ApiError(HttpStatus.BAD_REQUEST, ApiErrorCode.VALIDATION_FAILED, 'limit must be an integer 1-50');
    }
    return { numbers: await this.numbers.searchAvailable(areaCode, limit) };
  }

  @Post()
  @ApiOperation({ summary: 'Order a number from Skyetel; it becomes yours, not yet routed to an application' })
  @ApiCreatedResponse({ description: 'The new number.', type: PhoneNumberResponse })
  @ApiConflictResponse({ description: 'Already one of our numbers.' })
  @ApiUnprocessableEntityResponse({ description: 'Not a North American number, or Skyetel would not sell it.' })
  async purchase(
    @Body() body: PurchaseNumberDto,
    @CurrentAuth() auth: RequestAuth | undefined,
  ): Promise<PhoneNumberResponse> {
    return view(await this.numbers.purchase(body.number, ownerOf(auth)));
  }

  @Delete(':number')
  @ApiOperation({ summary: 'Release one of your numbers back to Skyetel (calls to it stop reaching us)' })
  @ApiParam({ name: 'number', description: 'E.164, with the + URL-encoded (%2B)', example: '+14155550101' })
  @ApiOkResponse({ description: 'The released number.', type: PhoneNumberResponse })
  @ApiNotFoundResponse({ description: 'Not one of your numbers.' })
  async release(
    @Param('number') number: string,
    @CurrentAuth() auth: RequestAuth | undefined,
  ): Promise<PhoneNumberResponse> {
    return view(await this.numbers.release(e164Param(number), callerOf(auth)));
  }

  @Put(':number/application')
  @ApiOperation({ summary: 'Route the inbound calls of one of your numbers to one of your applications' })
  @ApiParam({ name: 'number', description: 'E.164, with the + URL-encoded (%2B)', example: '+14155550101' })
  @ApiOkResponse({ description: 'The number with its application.', type: PhoneNumberResponse })
  @ApiNotFoundResponse({ description: 'Not one of your numbers, or no such application of yours.' })
  async assign(
    @Param('number') number: string,
    @Body() body: AssignApplicationDto,
    @CurrentAuth() auth: RequestAuth | undefined,
  ): Promise<PhoneNumberResponse> {
    return view(await this.numbers.assign(e164Param(number), body.application_id, callerOf(auth)));
  }
}
