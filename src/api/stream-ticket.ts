// Stream tickets: how the console opens GET /stream without a credential in the URL (EventSource cannot send an
// Authorization header, and URLs end up in access logs, proxies and browser history). POST /stream/ticket,
// authenticated by header, returns a ticket: the caller's credential encrypted (JWE, dir + A256GCM) under a key
// derived from the API's access-token key, with a random id and a 30 s expiry. GET /stream?ticket=… redeems it once:
// the ticket is decrypted back to the credential, which then goes through the same authentication, rate limits and
// access checks as a header would (so a revoked, disabled or expired credential fails at redemption too).
//
// Several API processes: every process derives the same key (they share access-token-key.pem), so any of them
// redeems a ticket another issued. Single use is enforced twice: in the redeeming process (synchronously, before
// any await) and across processes through the identity store's revoked-token ids (PostgreSQL in the scale-out
// roles), checked then recorded. Between another process's check and record there is a window of a database round
// trip in which a copied ticket could be redeemed a second time; such a copy still expires 30 s after issue and
// yields no more than the holder's own credential.

import { hkdfSync, randomUUID } from 'node:crypto';
import { EncryptJWT, jwtDecrypt } from 'jose';
import type { AccessTokenKey } from '../identity/access-token.ts';
import { AuthError } from '../identity/errors.ts';
import type { IdentityStore } from '../identity/store.ts';

export const STREAM_TICKET_TTL_SECONDS = 30;
const TYPE = 'vigil-stream-ticket';
const AUDIENCE = 'vigil-stream';
const ISSUER = 'vigil';
/** The shared revoked-id table holds access-token ids too; a prefix keeps the two apart. */
const USED_PREFIX = 'stream-ticket:';

export interface StreamTicketOptions {
  /** The access-token key of src/stores/identity/open.ts (shared by every API process); a random key when absent. */
  key?: AccessTokenKey;
  /** Where used ticket ids are recorded for every API process (the identity store). */
  identity?: Pick<IdentityStore, 'isAccessTokenRevoked' | 'revokeAccessToken'>;
  ttlSeconds?: number;
  clock?: () => number;
}

/** 32 bytes for A256GCM, derived (HKDF-SHA256) from the access-token key's material. */
function ticketKey(key: AccessTokenKey | undefined): Uint8Array {
  const material = key === undefined ? new TextEncoder().encode(randomUUID() + randomUUID())
    : key.alg === 'HS256' ? key.secret : key.privateKey.export({ format: 'der', type: 'pkcs8' });
  return new Uint8Array(hkdfSync('sha256', material, 'vigil', 'vigil stream ticket v1', 32));
}

export class StreamTickets {
  private readonly o: StreamTicketOptions;
  private readonly key: Uint8Array;
  private readonly ttlSeconds: number;
  private readonly clock: () => number;
  /** Ticket ids redeemed by this process, until their expiry (epoch ms). */
  private readonly used = new Map<string, number>();

  constructor(o: StreamTicketOptions = {}) {
    this.o = o;
    this.key = ticketKey(o.key);
    this.ttlSeconds = o.ttlSeconds ?? STREAM_TICKET_TTL_SECONDS;
    this.clock = o.clock ?? Date.now;
  }

  /** A ticket for `credential` (the bearer value of the request that asks for it). */
  async issue(credential: string): Promise<{ ticket: string; expiresIn: number }> {
    const now = Math.floor(this.clock() / 1000);
    const ticket = await new EncryptJWT({ cred: credential })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: TYPE })
      .setJti(randomUUID()).setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt(now).setExpirationTime(now + this.ttlSeconds)
      .encrypt(this.key);
    return { ticket, expiresIn: this.ttlSeconds };
  }

  /** The credential inside `ticket`, once; AuthError malformed, expired or revoked (already used) otherwise. */
  async redeem(ticket: string): Promise<string> {
    let claims: { jti?: string; exp?: number; cred?: unknown };
    try {
      ({ payload: claims } = await jwtDecrypt(ticket, this.key, {
        typ: TYPE, issuer: ISSUER, audience: AUDIENCE, currentDate: new Date(this.clock()),
        keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'], requiredClaims: ['jti', 'exp'],
      }));
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_JWT_EXPIRED') throw new AuthError('expired', 'stream ticket has expired; ask POST /stream/ticket for another');
      throw new AuthError('malformed', 'not a valid stream ticket');
    }
    const { jti, exp, cred } = claims;
    if (typeof jti !== 'string' || typeof exp !== 'number' || typeof cred !== 'string') throw new AuthError('malformed', 'not a valid stream ticket');
    this.forgetExpired();
    if (this.used.has(jti)) throw new AuthError('revoked', 'stream ticket was already used');
    this.used.set(jti, exp * 1000);
    const shared = this.o.identity;
    if (shared) {
      if (await shared.isAccessTokenRevoked(USED_PREFIX + jti)) throw new AuthError('revoked', 'stream ticket was already used');
      await shared.revokeAccessToken(USED_PREFIX + jti, exp * 1000);
    }
    return cred;
  }

  private forgetExpired(): void {
    const now = this.clock();
    for (const [id, until] of this.used) if (until < now) this.used.delete(id);
  }
}
