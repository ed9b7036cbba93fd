// Why a login was refused, and the one mapping of those reasons to HTTP answers. No refusal creates a session.
import { HttpStatus } from '@nestjs/common';
import { ApiError, ApiErrorCode, assertUnreachable } from '@sovren/http';

export enum LoginErrorCode {
  UNKNOWN_PROVIDER = 'UNKNOWN_PROVIDER',
  STATE_MISSING = 'STATE_MISSING',
  STATE_INVALID = 'STATE_INVALID',
  CONSENT_DENIED = 'CONSENT_DENIED',
  CODE_MISSING = 'CODE_MISSING',
  CODE_EXCHANGE_FAILED = 'CODE_EXCHANGE_FAILED',
  ID_TOKEN_INVALID = 'ID_TOKEN_INVALID',
  PROFILE_INVALID = 'PROFILE_INVALID',
  PROVIDER_UNREACHABLE = 'PROVIDER_UNREACHABLE',
  IDENTITY_LINKED_ELSEWHERE = 'IDENTITY_LINKED_ELSEWHERE',
  TOO_MANY_LOGINS = 'TOO_MANY_LOGINS',
}

export class LoginError extends Error {
  constructor(
    readonly code: LoginErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'LoginError';
  }
}

export function toApiError(error: LoginError, provider: string): ApiError {
  const details = { reason: error.code, provider };
  switch (error.code) {
    case LoginErrorCode.UNKNOWN_PROVIDER:
      return new ApiError(HttpStatus.NOT_FOUND, ApiErrorCode.NOT_FOUND, error.message, details);
    case LoginErrorCode.STATE_MISSING:
    case LoginErrorCode.STATE_INVALID:
    case LoginErrorCode.CODE_MISSING:
      return new ApiError(HttpStatus.BAD_REQUEST, ApiErrorCode.BAD_REQUEST, error.message, details);
    case LoginErrorCode.CONSENT_DENIED:
    case LoginErrorCode.CODE_EXCHANGE_FAILED:
    case LoginErrorCode.ID_TOKEN_INVALID:
    case LoginErrorCode.PROFILE_INVALID:
      return new ApiError(HttpStatus.UNAUTHORIZED, ApiErrorCode.UNAUTHORIZED, error.message, details);
    case LoginErrorCode.IDENTITY_LINKED_ELSEWHERE:
      return new ApiError(HttpStatus.CONFLICT, ApiErrorCode.CONFLICT, error.message, details);
    case LoginErrorCode.PROVIDER_UNREACHABLE:
      return new ApiError(HttpStatus.BAD_GATEWAY, ApiErrorCode.BAD_GATEWAY, error.message, details);
    case LoginErrorCode.TOO_MANY_LOGINS:
      return new ApiError(HttpStatus.SERVICE_UNAVAILABLE, ApiErrorCode.SERVICE_UNAVAILABLE, error.message, details);
    default:
      return assertUnreachable(error.code, 'LoginErrorCode');
  }
}
