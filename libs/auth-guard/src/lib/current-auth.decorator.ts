// @CurrentAuth() in a guarded handler: the validated identity of this request (set by SovrenAuthGuard).
import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { AuthIdentityV1, AuthTier } from '@sovren/messaging';

export interface RequestAuth {
  identity: AuthIdentityV1;
  scopes: string[];
  tier: AuthTier;
  /** The credential this request carried (auth's own routes need it for logout); never log it. */
  credential?: string;
}

export const REQUEST_AUTH_KEY = 'sovrenAuth';

export type RequestWithAuth = { [REQUEST_AUTH_KEY]?: RequestAuth };

export const CurrentAuth = createParamDecorator(
  (_data: unknown, context: ExecutionContext): RequestAuth | undefined => {
    return context.switchToHttp().getRequest<RequestWithAuth>()[REQUEST_AUTH_KEY];
  },
);
