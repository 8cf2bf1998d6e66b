// Enrolment tokens: random secrets handed to operators once; only their SHA-256 is stored. A token has
// an expiry and a use limit; the metadata store consumes uses atomically at enrolment.

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { MetadataStore } from './types.ts';

export interface IssuedToken { id: string; token: string; expiresAt: number; maxUses: number | null }

export const hashEnrollmentToken = (token: string): string => createHash('sha256').update(token).digest('hex');

export async function issueEnrollmentToken(metadata: MetadataStore, tenantId: string, ttlMs: number, maxUses: number | null): Promise<IssuedToken> {
  const token = `vet_${randomBytes(24).toString('base64url')}`;
  const id = randomUUID();
  const now = Date.now();
  await metadata.createEnrollmentToken({ id, tenantId, tokenHash: hashEnrollmentToken(token), createdAt: now, expiresAt: now + ttlMs, maxUses, uses: 0, revoked: false });
  return { id, token, expiresAt: now + ttlMs, maxUses };
}
