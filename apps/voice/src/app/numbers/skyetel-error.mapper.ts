// SkyetelError → the error envelope: what Skyetel refused is the caller's problem (4xx); Skyetel down, unreadable
// or refusing our credentials is ours (5xx).
import { HttpStatus } from '@nestjs/common';
import { ApiError, ApiErrorCode, assertUnreachable } from '@sovren/http';
import { SkyetelError } from '@sovren/skyetel';

export function toApiError(error: unknown): unknown {
  if (!(error instanceof SkyetelError)) return error;
  const detail = error.detail ? `: ${error.detail}` : '';
  switch (error.kind) {
    case 'invalid':
      return new ApiError(HttpStatus.UNPROCESSABLE_ENTITY, ApiErrorCode.UNPROCESSABLE, `Skyetel refused${detail}`);
    case 'not_found':
      return new ApiError(HttpStatus.NOT_FOUND, ApiErrorCode.NOT_FOUND, `Skyetel has no such number${detail}`);
    case 'configuration':
      return new ApiError(
        HttpStatus.SERVICE_UNAVAILABLE,
        ApiErrorCode.SERVICE_UNAVAILABLE,
        'Skyetel refused our credentials, or the egress allowlist refuses its host; an operator must fix the configuration',
      );
    case 'rate_limited':
      return new ApiError(
        HttpStatus.SERVICE_UNAVAILABLE,
        ApiErrorCode.SERVICE_UNAVAILABLE,
        'Skyetel is rate limiting our requests; try again in a minute',
      );
    case 'unavailable':
    case 'protocol':
      return new ApiError(HttpStatus.BAD_GATEWAY, ApiErrorCode.BAD_GATEWAY, `Skyetel did not answer properly`);
    default:
      return assertUnreachable(error.kind, 'SkyetelError kind');
  }
}

/** Runs a Skyetel call, rethrowing its SkyetelError as the matching ApiError. */
export async function viaSkyetel<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toApiError(error);
  }
}
