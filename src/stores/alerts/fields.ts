// The values an alert is found by beyond its columns, as rows of alert_fields (tenant, field, value, alert):
// `user` (its process's user name and each kept event's user.name), `file` (each kept event's file.path),
// `sha256` (each kept event's process.hash.sha256) and `technique` (its MITRE technique ids). Written in the
// transaction that stores or merges the alert; the user, file and hash filters and the MITRE counts read them.

import type { Alert } from '../../detect/alerts.ts';
import type { SqlQuerier, SqlValue } from '../sql/sql-db.ts';

export const ALERT_FIELDS = ['user', 'file', 'sha256', 'technique'] as const;
export type AlertField = (typeof ALERT_FIELDS)[number];

/**
 * Longest value kept (UTF-16 units): keys stay within PostgreSQL's B-tree entry bound. A longer file path is kept
 * to this length, so the file filter finds text in its first 512 characters only.
 */
export const MAX_FIELD_VALUE = 512;

export interface FieldRow { tenant_id: string; alert_id: string; field: AlertField; value: string }

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v.slice(0, MAX_FIELD_VALUE) : undefined);

const at = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);

/** The alert_fields rows of one alert (each value once). */
export function alertFields(tenantId: string, alertId: string, a: Pick<Alert, 'process' | 'events' | 'mitre'>): FieldRow[] {
  const values: [AlertField, unknown][] = [['user', a.process?.user_name]];
  for (const e of Array.isArray(a.events) ? a.events : []) {
    values.push(['user', at(e, 'user', 'name')], ['file', at(e, 'file', 'path')], ['sha256', at(e, 'process', 'hash', 'sha256')]);
  }
  for (const t of Array.isArray(a.mitre) ? a.mitre : []) values.push(['technique', t?.id]);
  const seen = new Set<string>();
  const rows: FieldRow[] = [];
  for (const [field, raw] of values) {
    const value = text(raw);
    if (value === undefined || seen.has(`${field}\u0000${value}`)) continue;
    seen.add(`${field}\u0000${value}`);
    rows.push({ tenant_id: tenantId, alert_id: alertId, field, value });
  }
  return rows;
}

/** Rows per INSERT statement (4 parameters each: within both engines' parameter bounds). */
const ROWS_PER_INSERT = 500;

/** Inserts alert_fields rows; a row already there is left as it is. */
export async function insertFields(q: SqlQuerier, rows: readonly FieldRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    const chunk = rows.slice(i, i + ROWS_PER_INSERT);
    const params: SqlValue[] = chunk.flatMap((r) => [r.tenant_id, r.field, r.value, r.alert_id]);
    await q.run(`INSERT INTO alert_fields (tenant_id, field, value, alert_id) VALUES ${chunk.map(() => '(?, ?, ?, ?)').join(', ')}
      ON CONFLICT (tenant_id, field, value, alert_id) DO NOTHING`, params);
  }
}
