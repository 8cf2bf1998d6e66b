// Service-account API keys: `vgk_<id>_<secret>`, shown once at creation, stored only as SHA-256, scoped to a
// tenant and a tenant role, optionally expiring, revocable, with a last-used time (written at most once a minute
// per key, to keep verification read-mostly). Clock and randomness injected.

import type { ApiKeyOrder, ApiKeyRecord, IdentityStore } from './store.ts';
import type { KeysetPage } from '../util/keyset.ts';
import { systemClock, systemRandom, type Clock, type Random } from './clock.ts';
import { AuthError } from './errors.ts';
import { isTenantRole } from './permissions.ts';
import { API_KEY_PREFIX, hashSecret, newSecret, sameHash } from './secrets.ts';
import { checkWellFormed } from './validate.ts';

const KEY_SHAPE = /^vgk_([0-9a-f]{24})_[A-Za-z0-9_-]{43}$/;
const TOUCH_EVERY_MS = 60_000;
const MAX_NAME = 200;

export interface NewApiKey {
  tenantId: string;
  name: string;
  role: string;
  /** Who is accountable for it: the creating user (`user:<id>`; for a key made with a key, that key's owner). */
  createdBy: string;
  expiresAt?: number | null;
}

export class ApiKeys {
  private readonly store: IdentityStore;
  private readonly clock: Clock;
  private readonly random: Random;

  constructor(opts: { store: IdentityStore; clock?: Clock; random?: Random }) {
    this.store = opts.store;
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? systemRandom;
  }

  /**
   * A new key and the record to store (nothing is stored yet: the caller records the creation in the audit ledger
   * first, then calls `save`). `key` is the only time the secret exists outside the caller's hands.
   */
  prepare(spec: NewApiKey): { key: string; record: ApiKeyRecord } {
    if (!isTenantRole(spec.role)) throw new AuthError('invalid_request', `API key role must be a tenant role, not ${JSON.stringify(spec.role)}`);
    if (typeof spec.name !== 'string' || spec.name.trim() === '' || spec.name.length > MAX_NAME) {
      throw new AuthError('invalid_request', `API key name must be 1..${MAX_NAME} characters`);
    }
    checkWellFormed('API key name', spec.name);
    const now = this.clock();
    if (spec.expiresAt != null && (!Number.isSafeInteger(spec.expiresAt) || spec.expiresAt <= now)) {
      throw new AuthError('invalid_request', 'API key expiry is in the past or not a time');
    }
    const id = Buffer.from(this.random(12)).toString('hex');
    const key = `${API_KEY_PREFIX}${id}_${newSecret('', this.random)}`;
    const record: ApiKeyRecord = {
      id, tenantId: spec.tenantId, name: spec.name.trim(), role: spec.role, keyHash: hashSecret(key),
      createdBy: spec.createdBy, createdAt: now, expiresAt: spec.expiresAt ?? null, revokedAt: null, lastUsedAt: null,
    };
    return { key, record };
  }

  save(record: ApiKeyRecord): Promise<void> {
    return this.store.createApiKey(record);
  }

  /** Creates and stores a key at once (no audit record: the AuthService records before it saves). */
  async create(spec: NewApiKey): Promise<{ key: string; record: ApiKeyRecord }> {
    const created = this.prepare(spec);
    await this.save(created.record);
    return created;
  }

  /** The key's record when `key` is a live key; throws AuthError malformed, bad_credentials, revoked or expired. */
  async verify(key: string): Promise<ApiKeyRecord> {
    const shape = KEY_SHAPE.exec(key);
    if (!shape) throw new AuthError('malformed', 'not a Vigil API key');
    const record = await this.store.getApiKey(shape[1]);
    if (!record || !sameHash(record.keyHash, hashSecret(key))) throw new AuthError('bad_credentials', 'API key is not valid');
    const now = this.clock();
    if (record.revokedAt !== null) throw new AuthError('revoked', 'API key has been revoked');
    if (record.expiresAt !== null && record.expiresAt <= now) throw new AuthError('expired', 'API key has expired');
    if (record.lastUsedAt === null || now - record.lastUsedAt >= TOUCH_EVERY_MS) {
      await this.store.touchApiKey(record.id, now);
      record.lastUsedAt = now;
    }
    return record;
  }

  async revoke(tenantId: string, id: string): Promise<void> {
    if (!(await this.store.revokeApiKey(tenantId, id, this.clock()))) {
      throw new AuthError('not_found', 'no such live API key in this tenant');
    }
  }

  list(tenantId: string, page?: KeysetPage<ApiKeyOrder>): Promise<ApiKeyRecord[]> {
    return this.store.listApiKeys(tenantId, page);
  }
}
