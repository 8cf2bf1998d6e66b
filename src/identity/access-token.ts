// Access tokens: JWTs (RFC 9068 `typ: at+jwt`) valid 15 minutes, signed with Ed25519 (EdDSA) or HS256 via
// `jose`, carrying subject, tenant (`tid`), role and a unique `jti` (for revocation). Verification maps every
// failure onto a precise AuthError: malformed, expired, tampered (signature, algorithm), wrong_type (another
// kind of JWT). Revocation is checked by the AuthService against the store. Clock and randomness injected.

import type { KeyObject } from 'node:crypto';
import { errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { randomId, systemClock, systemRandom, type Clock, type Random } from './clock.ts';
import { AuthError } from './errors.ts';
import { isRole, type Role } from './permissions.ts';

export type AccessTokenKey =
  | { alg: 'EdDSA'; privateKey: KeyObject; publicKey: KeyObject }
  | { alg: 'HS256'; secret: Uint8Array };

/** What a verified access token says. */
export interface AccessClaims {
  /** `user:<id>` or `apikey:<id>`. */
  subject: string;
  tenantId: string;
  role: Role;
  tokenId: string;
  issuedAt: number;
  expiresAt: number;
}

export interface AccessTokenOptions {
  key: AccessTokenKey;
  issuer?: string;
  audience?: string;
  ttlSeconds?: number;
  clock?: Clock;
  random?: Random;
}

export const ACCESS_TOKEN_TYPE = 'at+jwt';
const DEFAULT_TTL_SECONDS = 15 * 60;

function reason(err: unknown): AuthError {
  if (err instanceof errors.JWTExpired) return new AuthError('expired', 'access token has expired');
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JOSEAlgNotAllowed) {
    return new AuthError('tampered', 'access token signature or algorithm is not valid');
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    return err.claim === 'typ'
      ? new AuthError('wrong_type', 'token is not an access token')
      : new AuthError('tampered', `access token claim ${err.claim} is not valid`);
  }
  return new AuthError('malformed', 'access token is not a well-formed JWT');
}

export class AccessTokens {
  private readonly key: AccessTokenKey;
  private readonly issuer: string;
  private readonly audience: string;
  private readonly ttlSeconds: number;
  private readonly clock: Clock;
  private readonly random: Random;

  constructor(opts: AccessTokenOptions) {
    this.key = opts.key;
    this.issuer = opts.issuer ?? 'vigil';
    this.audience = opts.audience ?? 'vigil-api';
    this.ttlSeconds = opts.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? systemRandom;
  }

  get ttlMs(): number {
    return this.ttlSeconds * 1000;
  }

  private signingKey(): KeyObject | Uint8Array {
    return this.key.alg === 'EdDSA' ? this.key.privateKey : this.key.secret;
  }

  private verifyingKey(): KeyObject | Uint8Array {
    return this.key.alg === 'EdDSA' ? this.key.publicKey : this.key.secret;
  }

  async issue(subject: string, tenantId: string, role: Role): Promise<{ token: string; claims: AccessClaims }> {
    const issuedAt = Math.floor(this.clock() / 1000);
    const claims: AccessClaims = {
      subject, tenantId, role, tokenId: randomId(this.random), issuedAt, expiresAt: issuedAt + this.ttlSeconds,
    };
    const token = await new SignJWT({ tid: tenantId, role })
      .setProtectedHeader({ alg: this.key.alg, typ: ACCESS_TOKEN_TYPE })
      .setSubject(subject).setIssuer(this.issuer).setAudience(this.audience).setJti(claims.tokenId)
      .setIssuedAt(issuedAt).setExpirationTime(claims.expiresAt)
      .sign(this.signingKey());
    return { token, claims };
  }

  /** Verifies signature, type, issuer, audience and expiry; throws an AuthError saying which failed. */
  async verify(token: string): Promise<AccessClaims> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.verifyingKey(), {
        algorithms: [this.key.alg], typ: ACCESS_TOKEN_TYPE, issuer: this.issuer, audience: this.audience,
        currentDate: new Date(this.clock()), requiredClaims: ['sub', 'jti', 'exp', 'iat'],
      }));
    } catch (err) {
      throw reason(err);
    }
    const { sub, tid, role, jti, iat, exp } = payload;
    if (typeof tid !== 'string' || !isRole(role) || typeof sub !== 'string' || typeof jti !== 'string') {
      throw new AuthError('malformed', 'access token lacks tenant, role, subject or id');
    }
    return { subject: sub, tenantId: tid, role, tokenId: jti, issuedAt: Number(iat), expiresAt: Number(exp) };
  }
}
