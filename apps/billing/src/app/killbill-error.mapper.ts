// The one mapping from Kill Bill failures to HTTP answers of the billing API (exhaustive over the error kinds).
import { HttpStatus } from '@nestjs/common';
import { ApiError, ApiErrorCode, assertUnreachable } from '@sovren/http';
import { KillBillError } from '@sovren/killbill';

export function toApiError(error: unknown): unknown {
  if (!(error instanceof KillBillError)) return error;
  const details = { killbillStatus: error.status, killbillCode: error.code };
  switch (error.kind) {
    case 'client':
      return error.status === 404
        ? new ApiError(
            HttpStatus.NOT_FOUND,
            ApiErrorCode.NOT_FOUND,
            `Kill Bill: ${error.body?.message ?? 'not found'}`,
            details,
          )
        : new ApiError(
            HttpStatus.BAD_REQUEST,
            ApiErrorCode.BAD_REQUEST,
            `Kill Bill refused the request: ${error.body?.message ?? error.message}`,
            details,
          );
    case 'conflict':
      return new ApiError(
        HttpStatus.CONFLICT,
        ApiErrorCode.CONFLICT,
        `Kill Bill: ${error.body?.message ?? 'conflict'}`,
        details,
      );
    case 'payment_declined':
    case 'plugin_failure':
    case 'protocol':
      return new ApiError(HttpStatus.BAD_GATEWAY, ApiErrorCode.BAD_GATEWAY, `Kill Bill: ${error.message}`, details);
    // Kill Bill refusing billing's credentials is the operator's to fix; callers only learn it is unavailable.
    case 'configuration':
    case 'unavailable':
    case 'circuit_open':
      return new ApiError(
        HttpStatus.SERVICE_UNAVAILABLE,
        ApiErrorCode.SERVICE_UNAVAILABLE,
        'the billing engine is not available; try again shortly',
        {
          ...details,
          dependency: 'killbill',
        },
      );
    default:
      return assertUnreachable(error.kind);
  }
}

/** Runs `work`, turning a Kill Bill failure into the matching ApiError. */
export async function viaKillBill<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toApiError(error);
  }
}
