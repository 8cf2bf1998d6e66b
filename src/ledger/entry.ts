// Audit entries: the event the API appends (who, tenant, what, when, outcome, request id), its validation,
// its canonical (RFC 8785) byte form that the Merkle leaf hashes, and the row seal that binds a stored row to
// its position with a key kept outside the database. Pure.

import { createHmac, hkdfSync } from 'node:crypto';
import { canonicalize, type JsonValue } from './canonical.ts';
import { leafHash, type Hash } from './merkle.ts';

/** What a caller records: one state-changing API call, login attempt, IR command or rule change. */
export interface AuditEvent {
  actor: string;
  tenant_id: string;
  action: string;
  target: string;
  /** e.g. 'success', 'failure', 'denied', 'error'. */
  outcome: string;
  request_id: string;
  details?: { [key: string]: JsonValue };
}

/** A ledger entry: the event plus its position and the time the ledger accepted it. */
export interface LedgerEntry extends AuditEvent {
  index: number;
  timestamp: string;
  details: { [key: string]: JsonValue };
}

export class AuditEventError extends Error {
  override name = 'AuditEventError';
}

const REQUIRED = ['actor', 'action', 'outcome'] as const;
const OPTIONAL_TEXT = ['tenant_id', 'target', 'request_id'] as const;

/** Checks the shape of an event, throwing an AuditEventError that names the bad field. */
export function validateEvent(e: AuditEvent): void {
  if (typeof e !== 'object' || e === null) throw new AuditEventError('audit event must be an object');
  for (const f of REQUIRED) {
    if (typeof e[f] !== 'string' || e[f] === '') throw new AuditEventError(`audit event field ${f} must be a non-empty string`);
  }
  for (const f of OPTIONAL_TEXT) {
    if (typeof e[f] !== 'string') throw new AuditEventError(`audit event field ${f} must be a string`);
  }
  const d = e.details;
  if (d !== undefined && (typeof d !== 'object' || d === null || Array.isArray(d))) {
    throw new AuditEventError('audit event field details must be an object');
  }
}

export function makeEntry(e: AuditEvent, index: number, timestamp: string): LedgerEntry {
  return {
    index, timestamp, actor: e.actor, tenant_id: e.tenant_id, action: e.action, target: e.target,
    outcome: e.outcome, request_id: e.request_id, details: e.details ?? {},
  };
}

/** The canonical JSON text of an entry: exactly the bytes its leaf hash covers. */
export function encodeEntry(entry: LedgerEntry): string {
  return canonicalize(entry);
}

export function entryLeafHash(encoded: string): Hash {
  return leafHash(Buffer.from(encoded, 'utf8'));
}

/** Derives the row-seal key from the ledger's signing-key seed (so it never sits in the database). */
export function rowSealKey(signingSeed: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', signingSeed, new Uint8Array(0), 'vigil ledger row seal v1', 32));
}

/** HMAC-SHA-256(key, uint64be(index) ‖ leafHash): proves a row was written at `index` by the key holder. */
export function rowSeal(key: Uint8Array, index: number, leaf: Hash): Uint8Array {
  const position = Buffer.alloc(8);
  position.writeBigUInt64BE(BigInt(index));
  return new Uint8Array(createHmac('sha256', key).update(position).update(leaf).digest());
}

/**
 * Whether a stored row belongs in `tenantId`'s view: its tenant column selected it, and the entry it holds (the
 * hashed bytes) must name the same tenant, so a rewritten column never shows one tenant's entry to another.
 */
export function entryOfTenant(entry: string, tenantId: string): boolean {
  try {
    return (JSON.parse(entry) as { tenant_id?: unknown }).tenant_id === tenantId;
  } catch {
    return false;
  }
}
