// Exception routes: the tenant's alert exceptions (src/detect/exceptions.ts) listed, read, created, changed and
// deleted, and made from an alert's own fields (POST /alerts/{id}/exception). They live in the alert store, which
// applies them to new alerts (status `excepted`, not delivered). Reading needs alerts:read, every change
// alerts:triage; every change's ledger entry carries the exception's content (`req.auditDetail`).

import type { FastifyInstance } from 'fastify';
import {
  EXCEPTION_OPS, FIELD_PATTERN, MAX_CONDITIONS, MAX_FIELD_LENGTH, MAX_SCOPE_HOSTS, MAX_VALUE_LENGTH, conditionsFromAlert, fieldProblem, isActive,
  type AlertException, type ExceptionCondition, type ExceptionOp, type ExceptionScope,
} from '../../detect/exceptions.ts';
import type { JsonValue } from '../../ledger/canonical.ts';
import { TooManyExceptionsError, type ExceptionInput, type ExceptionPatch } from '../../stores/alerts/types.ts';
import { HttpError, intSchema, isoTimeSchema, parseTime, problem } from '../http.ts';
import { checkTimeCursor } from '../pagination.ts';
import type { ApiOptions } from '../server.ts';
import { answers, ref } from '../schemas/index.ts';

export function exceptionView(e: AlertException, now = new Date()) {
  const { tenant_id: _tenant, ...rest } = e;
  return { ...rest, active: isActive(e, now) };
}

const json = (e: AlertException): JsonValue => JSON.parse(JSON.stringify(exceptionView(e))) as JsonValue;

const conditionSchema = {
  type: 'object', additionalProperties: false, required: ['field', 'op', 'value'], properties: {
    field: { type: 'string', minLength: 1, maxLength: MAX_FIELD_LENGTH, pattern: FIELD_PATTERN },
    op: { type: 'string', enum: [...EXCEPTION_OPS] },
    value: { type: 'string', minLength: 1, maxLength: MAX_VALUE_LENGTH },
  },
} as const;
const conditionsSchema = { type: 'array', maxItems: MAX_CONDITIONS, items: conditionSchema } as const;
const scopeSchema = {
  type: 'object', additionalProperties: false, properties: {
    host_ids: { type: 'array', maxItems: MAX_SCOPE_HOSTS, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 128 } },
  },
} as const;
const CREATED = answers({ 201: ref('AlertException') });
const reasonSchema = { type: 'string', minLength: 1, maxLength: 2000 } as const;
const ruleIdSchema = { type: 'string', minLength: 1, maxLength: 256 } as const;

function checkConditions(conditions: ExceptionCondition[]): void {
  for (const c of conditions) {
    const p = fieldProblem(c.field);
    if (p) throw new HttpError(400, p, 'invalid_request');
  }
}

/** An expiry in the future, or null; a 400 otherwise. */
function expiry(v: string | null | undefined): string | null {
  if (v === undefined || v === null) return null;
  const t = parseTime(v, 'expires_at')!;
  if (t.getTime() <= Date.now()) throw new HttpError(400, 'expires_at must be in the future', 'invalid_request');
  return t.toISOString();
}

export function exceptionRoutes(api: FastifyInstance, o: ApiOptions): void {
  const store = o.alerts;
  if (!store) return;

  /** The scope's hosts must be hosts of the tenant (a typo would silently scope the exception to nothing). */
  async function checkScope(tenantId: string, scope: ExceptionScope | undefined): Promise<ExceptionScope> {
    const ids = scope?.host_ids ?? [];
    if (ids.length === 0) return {};
    const known = new Set((await o.metadata.listHosts(tenantId)).map((h) => h.id));
    const unknown = ids.filter((id) => !known.has(id));
    if (unknown.length) throw new HttpError(400, `no such host in this tenant: ${unknown.slice(0, 5).join(', ')}`, 'invalid_request');
    return { host_ids: ids };
  }

  function checkRule(ruleId: string): void {
    if (o.rules && !o.rules.get(ruleId)) throw new HttpError(400, `no such rule '${ruleId}'`, 'invalid_request');
  }

  async function create(tenantId: string, actor: string, input: ExceptionInput) {
    try {
      return await store!.createException(tenantId, actor, input);
    } catch (err) {
      if (err instanceof TooManyExceptionsError) throw new HttpError(409, err.message, 'too_many_exceptions');
      throw err;
    }
  }

  api.get<{ Querystring: { rule_id?: string; active?: boolean; limit?: number; cursor?: string } }>('/exceptions', {
    config: { access: 'alerts:read' },
    schema: { querystring: { type: 'object', additionalProperties: false, properties: {
      rule_id: ruleIdSchema, active: { type: 'boolean' }, limit: intSchema(1, 1000), cursor: { type: 'string', minLength: 1, maxLength: 512 } } },
      response: answers({ 200: ref('AlertExceptionPage') }) },
  }, async (req, reply) => {
    const q = req.query;
    checkTimeCursor(q.cursor);
    try {
      const now = new Date();
      const page = await store.listExceptions({ tenantId: req.principal!.tenantId, ruleId: q.rule_id, active: q.active, now, limit: q.limit ?? 100, cursor: q.cursor });
      return { exceptions: page.exceptions.map((e) => exceptionView(e, now)), next: page.next, total: page.total };
    } catch (err) {
      if ((err as Error).message === 'invalid cursor') return problem(reply, 400, 'Bad Request', 'invalid cursor', { code: 'invalid_cursor' });
      throw err;
    }
  });

  api.get<{ Params: { id: string } }>('/exceptions/:id', { config: { access: 'alerts:read' }, schema: { response: answers({ 200: ref('AlertException') }) } }, async (req, reply) => {
    const e = await store.getException(req.principal!.tenantId, req.params.id);
    return e ? exceptionView(e) : problem(reply, 404, 'Not Found', 'no such exception');
  });

  api.post<{ Body: { rule_id: string; conditions: ExceptionCondition[]; scope?: ExceptionScope; reason: string; expires_at?: string } }>('/exceptions', {
    config: { access: 'alerts:triage' },
    schema: { body: { type: 'object', additionalProperties: false, required: ['rule_id', 'conditions', 'reason'], properties: {
      rule_id: ruleIdSchema, conditions: conditionsSchema, scope: scopeSchema, reason: reasonSchema, expires_at: isoTimeSchema } }, response: CREATED },
  }, async (req, reply) => {
    const p = req.principal!;
    const b = req.body;
    checkConditions(b.conditions);
    checkRule(b.rule_id);
    const e = await create(p.tenantId, p.subject, {
      rule_id: b.rule_id, conditions: b.conditions, scope: await checkScope(p.tenantId, b.scope), reason: b.reason, expires_at: expiry(b.expires_at),
    });
    req.auditDetail = { exception: json(e) };
    return reply.code(201).send(exceptionView(e));
  });

  api.patch<{ Params: { id: string }; Body: { conditions?: ExceptionCondition[]; scope?: ExceptionScope; reason?: string; expires_at?: string | null } }>('/exceptions/:id', {
    config: { access: 'alerts:triage' },
    schema: { body: { type: 'object', additionalProperties: false, minProperties: 1, properties: {
      conditions: conditionsSchema, scope: scopeSchema, reason: reasonSchema, expires_at: { ...isoTimeSchema, type: ['string', 'null'] } } },
      response: answers({ 200: ref('AlertException') }) },
  }, async (req, reply) => {
    const p = req.principal!;
    const b = req.body;
    const before = await store.getException(p.tenantId, req.params.id);
    if (!before) return problem(reply, 404, 'Not Found', 'no such exception');
    const patch: ExceptionPatch = {};
    if (b.conditions !== undefined) { checkConditions(b.conditions); patch.conditions = b.conditions; }
    if (b.scope !== undefined) patch.scope = await checkScope(p.tenantId, b.scope);
    if (b.reason !== undefined) patch.reason = b.reason;
    if (b.expires_at !== undefined) patch.expires_at = expiry(b.expires_at);
    const after = await store.updateException(p.tenantId, req.params.id, p.subject, patch);
    if (!after) return problem(reply, 404, 'Not Found', 'no such exception');
    req.auditDetail = { exception: { before: json(before), after: json(after) } };
    return exceptionView(after);
  });

  api.delete<{ Params: { id: string } }>('/exceptions/:id', { config: { access: 'alerts:triage' }, schema: { response: answers({ 204: null }) } }, async (req, reply) => {
    const e = await store.deleteException(req.principal!.tenantId, req.params.id);
    if (!e) return problem(reply, 404, 'Not Found', 'no such exception');
    req.auditDetail = { exception: json(e) };
    return reply.code(204).send();
  });

  api.post<{ Params: { id: string }; Body: { fields: string[]; op?: ExceptionOp; scope?: 'host' | 'tenant'; reason: string; expires_at?: string } }>('/alerts/:id/exception', {
    config: { access: 'alerts:triage' },
    schema: { body: { type: 'object', additionalProperties: false, required: ['fields', 'reason'], properties: {
      fields: { type: 'array', maxItems: MAX_CONDITIONS, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: MAX_FIELD_LENGTH, pattern: FIELD_PATTERN } },
      op: { type: 'string', enum: [...EXCEPTION_OPS] }, scope: { type: 'string', enum: ['host', 'tenant'] },
      reason: reasonSchema, expires_at: isoTimeSchema } }, response: CREATED },
  }, async (req, reply) => {
    const p = req.principal!;
    const b = req.body;
    const alert = await store.get(p.tenantId, req.params.id);
    if (!alert) return problem(reply, 404, 'Not Found', 'no such alert');
    let conditions: ExceptionCondition[];
    try {
      conditions = conditionsFromAlert(alert, b.fields, b.op ?? 'equals');
    } catch (err) {
      throw new HttpError(400, (err as Error).message, 'field_not_in_alert');
    }
    const scope: ExceptionScope = (b.scope ?? 'host') === 'host' && alert.host_id ? { host_ids: [alert.host_id] } : {};
    const e = await create(p.tenantId, p.subject, {
      rule_id: alert.rule.id, conditions, scope, reason: b.reason, expires_at: expiry(b.expires_at), source_alert_id: alert.id,
    });
    req.auditDetail = { exception: json(e) };
    return reply.code(201).send(exceptionView(e));
  });
}
