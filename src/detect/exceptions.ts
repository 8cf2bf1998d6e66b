// Alert exceptions: "this rule's alerts matching these conditions, on these hosts, are expected". An exception
// holds conditions on the alert's matching event, addressed by dotted path (`process.executable`, `file.path`,
// `destination.ip`, …), all of which must hold; an optional host scope; an optional expiry. The alert stores
// apply them to new alerts (status `excepted`); this module only decides whether one matches. Pure.

import type { Alert } from './alerts.ts';

export const EXCEPTION_OPS = ['equals', 'contains', 'startswith', 'endswith'] as const;
export type ExceptionOp = (typeof EXCEPTION_OPS)[number];

export interface ExceptionCondition { field: string; op: ExceptionOp; value: string }

export interface ExceptionScope { host_ids?: string[] }

export interface AlertException {
  id: string;
  tenant_id: string;
  rule_id: string;
  conditions: ExceptionCondition[];
  scope: ExceptionScope;
  reason: string;
  expires_at: string | null;
  /** The alert it was made from (POST /alerts/{id}/exception), if any. */
  source_alert_id: string | null;
  created_by: string;
  created_at: string;
  updated_by: string;
  updated_at: string;
}

export const MAX_CONDITIONS = 20;
export const MAX_SCOPE_HOSTS = 1000;
export const MAX_FIELD_LENGTH = 200;
export const MAX_VALUE_LENGTH = 4096;
/** A dotted path of plain keys: no empty segment, nothing that walks a prototype. */
export const FIELD_PATTERN = '^[A-Za-z0-9_@-]+(\\.[A-Za-z0-9_@-]+)*$';
const FIELD_RE = new RegExp(FIELD_PATTERN);
const FORBIDDEN_KEYS = new Set(['__proto__', 'prototype', 'constructor']);

/** Why a field path is unusable, or undefined when it is fine. */
export function fieldProblem(field: string): string | undefined {
  if (field.length === 0 || field.length > MAX_FIELD_LENGTH) return `field must be 1–${MAX_FIELD_LENGTH} characters`;
  if (!FIELD_RE.test(field)) return `field '${field}' is not a dotted path of letters, digits, '_', '@' and '-'`;
  if (field.split('.').some((k) => FORBIDDEN_KEYS.has(k))) return `field '${field}' names a reserved key`;
  return undefined;
}

/** The value at a dotted path of a record (own properties only); undefined when absent. */
export function fieldValue(record: unknown, field: string): unknown {
  let v: unknown = record;
  for (const key of field.split('.')) {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** The texts a field value compares as: a string or number or boolean as text, each scalar of a list; none else. */
function texts(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (typeof v === 'number' || typeof v === 'bigint') return Number.isFinite(Number(v)) ? [String(v)] : [];
  if (typeof v === 'boolean') return [String(v)];
  if (Array.isArray(v)) return v.flatMap((x) => (Array.isArray(x) ? [] : texts(x)));
  return [];
}

function holds(text: string, c: ExceptionCondition): boolean {
  switch (c.op) {
    case 'equals': return text === c.value;
    case 'contains': return text.includes(c.value);
    case 'startswith': return text.startsWith(c.value);
    case 'endswith': return text.endsWith(c.value);
  }
}

/** Does one condition hold on an event? A field the event lacks never matches. */
export function conditionHolds(event: unknown, c: ExceptionCondition): boolean {
  return texts(fieldValue(event, c.field)).some((t) => holds(t, c));
}

export function isActive(e: Pick<AlertException, 'expires_at'>, now: Date): boolean {
  return e.expires_at === null || e.expires_at > now.toISOString();
}

/**
 * Does the exception apply to the alert at `now`? Same tenant and rule, not expired, the alert's host in scope
 * (an empty scope is every host), and every condition holding on the alert's matching event (its first; a
 * correlation alert carries none, so only an exception without conditions applies to it).
 */
export function exceptionMatches(e: AlertException, alert: Alert, now: Date): boolean {
  if (e.tenant_id !== alert.tenant_id || e.rule_id !== alert.rule.id || !isActive(e, now)) return false;
  const hosts = e.scope.host_ids ?? [];
  if (hosts.length > 0 && !hosts.includes(alert.host_id ?? '')) return false;
  if (e.conditions.length === 0) return true;
  const event = alert.events[0];
  if (event === undefined) return false;
  return e.conditions.every((c) => conditionHolds(event, c));
}

/** The first exception (in the given order) that applies to the alert, if any. */
export function matchingException(exceptions: readonly AlertException[], alert: Alert, now: Date): AlertException | undefined {
  return exceptions.find((e) => exceptionMatches(e, alert, now));
}

/**
 * Conditions from an alert's event: `equals` (or `op`) its value of each field. Throws a RangeError naming the
 * first field the event lacks or whose value is not a scalar.
 */
export function conditionsFromAlert(alert: Alert, fields: string[], op: ExceptionOp = 'equals'): ExceptionCondition[] {
  const event = alert.events[0];
  return fields.map((field) => {
    const problem = fieldProblem(field);
    if (problem) throw new RangeError(problem);
    const v = event === undefined ? undefined : fieldValue(event, field);
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw new RangeError(v === undefined ? `the alert's event has no field '${field}'` : `the alert's field '${field}' is not a single value`);
    }
    const value = String(v);
    if (value.length === 0 || value.length > MAX_VALUE_LENGTH) throw new RangeError(`the alert's field '${field}' is empty or longer than ${MAX_VALUE_LENGTH}`);
    return { field, op, value };
  });
}
