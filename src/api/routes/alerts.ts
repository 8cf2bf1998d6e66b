// Alert routes: list with filters (severity, status, host, rule, time) and keyset cursors, one alert with
// its events, rule (with its author, as the rule licence requires) and MITRE techniques, and triage in
// place: acknowledge, assign, close with a reason, suppress with a reason and an expiry, comment.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ALERT_STATUSES, type AlertStatus, type StoredAlert, type TriageAction } from '../../stores/alerts/types.ts';
import { HttpError, intSchema, isoTimeSchema, parseTime, problem } from '../http.ts';
import { checkTimeCursor } from '../pagination.ts';
import type { ApiOptions } from '../server.ts';

const MAX_ALERTS = 1000;

export function alertView(a: StoredAlert) {
  const { mitre, ...rest } = a;
  return { ...rest, occurrences: a.occurrences ?? 1, severity: a.rule.level, techniques: mitre };
}

const list = (v: string | undefined) => v?.split(',').map((s) => s.trim()).filter(Boolean);

const triageBodies: Record<string, object> = {
  acknowledge: { type: 'object', additionalProperties: false, properties: {} },
  assign: { type: 'object', additionalProperties: false, required: ['assignee'], properties: { assignee: { type: 'string', minLength: 1, maxLength: 200 } } },
  close: { type: 'object', additionalProperties: false, required: ['reason'], properties: { reason: { type: 'string', minLength: 1, maxLength: 2000 } } },
  suppress: { type: 'object', additionalProperties: false, required: ['reason', 'until'], properties: {
    reason: { type: 'string', minLength: 1, maxLength: 2000 }, until: isoTimeSchema } },
  comment: { type: 'object', additionalProperties: false, required: ['text'], properties: { text: { type: 'string', minLength: 1, maxLength: 10_000 } } },
};

function triageAction(action: string, body: Record<string, string>): TriageAction {
  switch (action) {
    case 'assign': return { action, assignee: body.assignee };
    case 'close': return { action, reason: body.reason };
    case 'comment': return { action, text: body.text };
    case 'suppress': {
      const until = parseTime(body.until, 'until')!;
      if (until.getTime() <= Date.now()) throw new HttpError(400, 'until must be in the future', 'invalid_request');
      return { action, reason: body.reason, until };
    }
    default: return { action: 'acknowledge' };
  }
}

export function alertRoutes(api: FastifyInstance, o: ApiOptions): void {
  const store = o.alerts;
  if (!store) return;

  api.get<{ Querystring: { severity?: string; status?: string; host?: string; rule?: string; from?: string; to?: string; limit?: number; cursor?: string } }>('/alerts', {
    config: { access: 'alerts:read' },
    schema: { querystring: { type: 'object', additionalProperties: false, properties: {
      severity: { type: 'string', maxLength: 200 }, status: { type: 'string', maxLength: 200 }, host: { type: 'string', maxLength: 128 },
      rule: { type: 'string', maxLength: 256 }, from: isoTimeSchema, to: isoTimeSchema,
      limit: intSchema(1, MAX_ALERTS), cursor: { type: 'string', minLength: 1, maxLength: 512 } } } },
  }, async (req, reply) => {
    const q = req.query;
    const statuses = list(q.status);
    const bad = statuses?.find((s) => !(ALERT_STATUSES as readonly string[]).includes(s));
    if (bad) return problem(reply, 400, 'Bad Request', `unknown status '${bad}' (one of ${ALERT_STATUSES.join(', ')})`, { code: 'invalid_request' });
    const [from, to] = [parseTime(q.from, 'from'), parseTime(q.to, 'to')];
    checkTimeCursor(q.cursor);
    try {
      const page = await store.list({
        tenantId: req.principal!.tenantId, severities: list(q.severity), statuses: statuses as AlertStatus[] | undefined,
        hostId: q.host, ruleId: q.rule, from, to, limit: q.limit ?? 100, cursor: q.cursor,
      });
      return { alerts: page.alerts.map(alertView), next: page.next };
    } catch (err) {
      if ((err as Error).message === 'invalid cursor') return problem(reply, 400, 'Bad Request', 'invalid cursor', { code: 'invalid_cursor' });
      throw err;
    }
  });

  api.get<{ Params: { id: string } }>('/alerts/:id', { config: { access: 'alerts:read' } }, async (req, reply) => {
    const a = await store.get(req.principal!.tenantId, req.params.id);
    return a ? alertView(a) : problem(reply, 404, 'Not Found', 'no such alert');
  });

  for (const action of Object.keys(triageBodies)) {
    api.post<{ Params: { id: string }; Body: Record<string, string> }>(`/alerts/:id/${action}`, { config: { access: 'alerts:triage' }, schema: { body: triageBodies[action] } },
      async (req: FastifyRequest<{ Params: { id: string }; Body: Record<string, string> }>, reply: FastifyReply) => {
        const p = req.principal!;
        const updated = await store.triage(p.tenantId, req.params.id, p.subject, triageAction(action, req.body ?? {}));
        return updated ? alertView(updated) : problem(reply, 404, 'Not Found', 'no such alert');
      });
  }
}
