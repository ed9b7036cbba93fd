// Full OIDC id_token validation: signature against the provider's JWKS, `iss` (for Microsoft the per-tenant
// issuer built from the token's own `tid`, and the configured tenant when there is one), `aud` = our client id,
// `exp`/`iat`, and the `nonce` this login sent. Any failure refuses the login.
import { Injectable } from '@nestjs/common';
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';

import type { LoginProvider } from '../auth-config/login-providers.config';
import { LoginError, LoginErrorCode } from './login.errors';
import { ProviderMetadataService } from './provider-metadata.service';

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const CLOCK_TOLERANCE_S = 30;

@Injectable()
export class IdTokenVerifier {
  constructor(private readonly metadata: ProviderMetadataService) {}

  async verify(provider: LoginProvider, idToken: string, expectedNonce: string): Promise<JWTPayload> {
    const payload = await this.verifySignatureAndClaims(provider, idToken);
    if (provider.issuerTemplate) {
      const tid = payload['tid'];
      if (typeof tid !== 'string' || !/^[0-9a-zA-Z-]{1,64}$/.test(tid)) {
        throw this.refused(provider, 'the id_token has no valid tid (tenant) claim');
      }
      if (provider.requiredTenant && tid !== provider.requiredTenant) {
        throw this.refused(provider, `the id_token is from tenant ${tid}, not the configured tenant`);
      }
      const expectedIssuer = provider.issuerTemplate.replace('{tenantid}', tid);
      if (payload.iss !== expectedIssuer) {
        throw this.refused(provider, `unexpected "iss" claim value (expected the issuer of tenant ${tid})`);
      }
    }
    if (payload['nonce'] !== expectedNonce)
      throw this.refused(provider, 'the id_token nonce does not match this login');
    if (typeof payload.sub !== 'string' || payload.sub === '')
      throw this.refused(provider, 'the id_token has no subject');
    return payload;
  }

  private async verifySignatureAndClaims(
    provider: LoginProvider,
    idToken: string,
    retried = false,
  ): Promise<JWTPayload> {
    const jwks = createLocalJWKSet(await this.metadata.jwksOf(provider, retried));
    const { issuer } = await this.metadata.endpointsOf(provider);
    try {
      const { payload } = await jwtVerify(idToken, jwks, {
        algorithms: ALGORITHMS,
        audience: provider.clientId,
        issuer: provider.issuerTemplate ? undefined : issuer,
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
      });
      return payload;
    } catch (error) {
      if (error instanceof joseErrors.JWKSNoMatchingKey && !retried) {
        return this.verifySignatureAndClaims(provider, idToken, true);
      }
      if (error instanceof joseErrors.JOSEError) throw this.refused(provider, error.message);
      throw error;
    }
  }

  private refused(provider: LoginProvider, why: string): LoginError {
    return new LoginError(LoginErrorCode.ID_TOKEN_INVALID, `the id_token from ${provider.name} was refused: ${why}`);
  }
}
