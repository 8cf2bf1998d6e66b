// The AuditSink interface: what any component (identity, API, IR, rules) records into the audit ledger, and its
// mapping onto a ledger AuditEvent. The Ledger implements AuditSink; components depend only on this interface,
// so tests can pass an in-memory sink. Pure.

import type { JsonValue } from './canonical.ts';
import type { AuditEvent } from './entry.ts';

/** One auditable fact: who did what to which target in which tenant, and how it ended. */
export interface AuditRecord {
  /** Who acted: e.g. `user:<id>`, `apikey:<id>`, `system`, or the e-mail tried at a failed login. */
  actor: string;
  /** The tenant the action concerns; '' for platform-wide (super-admin) actions. */
  tenantId: string;
  /** What was done, dotted: e.g. `auth.login`, `users.create`, `apikeys.revoke`. */
  action: string;
  target?: string;
  /** e.g. 'success', 'failure', 'denied', 'error'. */
  outcome: string;
  requestId?: string;
  /** Extra JSON facts (never secrets): e.g. `{ reason: 'locked' }`. */
  detail?: { [key: string]: JsonValue };
}

export interface AuditSink {
  /** Resolves once the record is durable. */
  record(entry: AuditRecord): Promise<void>;
}

export function auditEventOf(r: AuditRecord): AuditEvent {
  const event: AuditEvent = {
    actor: r.actor, tenant_id: r.tenantId, action: r.action, target: r.target ?? '', outcome: r.outcome,
    request_id: r.requestId ?? '',
  };
  if (r.detail !== undefined) event.details = r.detail;
  return event;
}
