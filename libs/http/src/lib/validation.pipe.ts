// The global request validation: unknown fields are refused, payloads become DTO instances, and every failure
// is reported per field (nested fields as dotted paths) in a 400 VALIDATION_FAILED error.
import { ValidationError, ValidationPipe } from '@nestjs/common';

import { ApiError } from './api-error';
import { ApiErrorCode } from './api-error-code';

export interface FieldValidationProblem {
  field: string;
  messages: string[];
}

export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors: ValidationError[]) =>
      new ApiError(400, ApiErrorCode.VALIDATION_FAILED, 'Request validation failed', flattenValidationErrors(errors)),
  });
}

export function flattenValidationErrors(errors: readonly ValidationError[], parent = ''): FieldValidationProblem[] {
  return errors.flatMap((error) => {
    const field = parent === '' ? error.property : `${parent}.${error.property}`;
    const own = Object.values(error.constraints ?? {});
    const nested = flattenValidationErrors(error.children ?? [], field);
    return own.length > 0 ? [{ field, messages: own }, ...nested] : nested;
  });
}
