// The error feature code throws to answer a request with a specific code, message and details.
import { HttpException } from '@nestjs/common';

import { ApiErrorCode, httpStatusForCode } from './api-error-code';

export class ApiError extends HttpException {
  constructor(
    status: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super({ code, message, details }, status);
    this.name = 'ApiError';
  }

  /** An ApiError sent with the code's usual status (NOT_FOUND → 404, RATE_LIMITED → 429...). */
  static fromCode(code: ApiErrorCode, message: string, details?: unknown): ApiError {
    return new ApiError(httpStatusForCode(code), code, message, details);
  }
}
