// The error codes clients see in `error.code`, and the one mapping between them and HTTP statuses.
import { HttpStatus } from '@nestjs/common';

import { assertUnreachable } from './assert-unreachable';

export enum ApiErrorCode {
  BAD_REQUEST = 'BAD_REQUEST',
  VALIDATION_FAILED = 'VALIDATION_FAILED',
  UNAUTHORIZED = 'UNAUTHORIZED',
  FORBIDDEN = 'FORBIDDEN',
  /** 403: the credential is valid but lacks a scope the route requires (RFC 6750's insufficient_scope). */
  INSUFFICIENT_SCOPE = 'INSUFFICIENT_SCOPE',
  NOT_FOUND = 'NOT_FOUND',
  METHOD_NOT_ALLOWED = 'METHOD_NOT_ALLOWED',
  CONFLICT = 'CONFLICT',
  PAYLOAD_TOO_LARGE = 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE = 'UNSUPPORTED_MEDIA_TYPE',
  UNPROCESSABLE = 'UNPROCESSABLE',
  RATE_LIMITED = 'RATE_LIMITED',
  INTERNAL = 'INTERNAL',
  BAD_GATEWAY = 'BAD_GATEWAY',
  SERVICE_UNAVAILABLE = 'SERVICE_UNAVAILABLE',
  GATEWAY_TIMEOUT = 'GATEWAY_TIMEOUT',
}

/** The status a code is normally sent with (used by ApiError.fromCode). */
export function httpStatusForCode(code: ApiErrorCode): HttpStatus {
  switch (code) {
    case ApiErrorCode.BAD_REQUEST:
    case ApiErrorCode.VALIDATION_FAILED:
      return HttpStatus.BAD_REQUEST;
    case ApiErrorCode.UNAUTHORIZED:
      return HttpStatus.UNAUTHORIZED;
    case ApiErrorCode.FORBIDDEN:
    case ApiErrorCode.INSUFFICIENT_SCOPE:
      return HttpStatus.FORBIDDEN;
    case ApiErrorCode.NOT_FOUND:
      return HttpStatus.NOT_FOUND;
    case ApiErrorCode.METHOD_NOT_ALLOWED:
      return HttpStatus.METHOD_NOT_ALLOWED;
    case ApiErrorCode.CONFLICT:
      return HttpStatus.CONFLICT;
    case ApiErrorCode.PAYLOAD_TOO_LARGE:
      return HttpStatus.PAYLOAD_TOO_LARGE;
    case ApiErrorCode.UNSUPPORTED_MEDIA_TYPE:
      return HttpStatus.UNSUPPORTED_MEDIA_TYPE;
    case ApiErrorCode.UNPROCESSABLE:
      return HttpStatus.UNPROCESSABLE_ENTITY;
    case ApiErrorCode.RATE_LIMITED:
      return HttpStatus.TOO_MANY_REQUESTS;
    case ApiErrorCode.INTERNAL:
      return HttpStatus.INTERNAL_SERVER_ERROR;
    case ApiErrorCode.BAD_GATEWAY:
      return HttpStatus.BAD_GATEWAY;
    case ApiErrorCode.SERVICE_UNAVAILABLE:
      return HttpStatus.SERVICE_UNAVAILABLE;
    case ApiErrorCode.GATEWAY_TIMEOUT:
      return HttpStatus.GATEWAY_TIMEOUT;
    default:
      return assertUnreachable(code, 'ApiErrorCode');
  }
}

/** The code for an HttpException that carries only a status (Nest's built-in exceptions, 404s, body parsing). */
export function codeForHttpStatus(status: number): ApiErrorCode {
  switch (status) {
    case HttpStatus.UNAUTHORIZED:
      return ApiErrorCode.UNAUTHORIZED;
    case HttpStatus.FORBIDDEN:
      return ApiErrorCode.FORBIDDEN;
    case HttpStatus.NOT_FOUND:
      return ApiErrorCode.NOT_FOUND;
    case HttpStatus.METHOD_NOT_ALLOWED:
      return ApiErrorCode.METHOD_NOT_ALLOWED;
    case HttpStatus.CONFLICT:
      return ApiErrorCode.CONFLICT;
    case HttpStatus.PAYLOAD_TOO_LARGE:
      return ApiErrorCode.PAYLOAD_TOO_LARGE;
    case HttpStatus.UNSUPPORTED_MEDIA_TYPE:
      return ApiErrorCode.UNSUPPORTED_MEDIA_TYPE;
    case HttpStatus.UNPROCESSABLE_ENTITY:
      return ApiErrorCode.UNPROCESSABLE;
    case HttpStatus.TOO_MANY_REQUESTS:
      return ApiErrorCode.RATE_LIMITED;
    case HttpStatus.BAD_GATEWAY:
      return ApiErrorCode.BAD_GATEWAY;
    case HttpStatus.SERVICE_UNAVAILABLE:
      return ApiErrorCode.SERVICE_UNAVAILABLE;
    case HttpStatus.GATEWAY_TIMEOUT:
      return ApiErrorCode.GATEWAY_TIMEOUT;
    default:
      return status >= 500 ? ApiErrorCode.INTERNAL : ApiErrorCode.BAD_REQUEST;
  }
}
