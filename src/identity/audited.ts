// A state change and its audit record, together: the record is appended first (so a ledger that cannot record
// leaves nothing changed: fail closed), then the change is applied; if the change then fails, a `failure` record
// for the same action and target follows (best effort) and the error propagates. Callers check everything they
// can (existence, conflicts, input) before, so the follow-up is the rare case of a race or a store failure.

import type { AuditRecord, AuditSink } from '../ledger/sink.ts';
import { AuthError } from './errors.ts';

export async function recordThenApply<T>(audit: AuditSink, entry: AuditRecord, apply: () => Promise<T>): Promise<T> {
  await audit.record(entry);
  try {
    return await apply();
  } catch (err) {
    const reason = err instanceof AuthError ? err.code : 'error';
    await audit.record({ ...entry, outcome: 'failure', detail: { ...entry.detail, reason } }).catch(() => undefined);
    throw err;
  }
}
