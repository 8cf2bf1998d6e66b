// Incident routes (docs/api.md, "Incidents"): list with filters, cursor and total; one incident with its alerts
// summarised, its linked response actions and a merged timeline; changes (patch, notes, close, reopen, moving
// alerts, linking actions), each recorded in the ledger with what changed, inside the store's transaction and
// before the change commits (a ledger that cannot record leaves the incident unchanged: 503); and the incident of
// an alert. Reading needs alerts:read, changing alerts:triage; another tenant's incident or alert is 404.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { alertFacts, LEVELS, WINDOW_MS, type AlertFacts, type IncidentLevel } from '../../incidents/grouping.ts';
import type { JsonValue } from '../../ledger/canonical.ts';
import type { CommandRecord } from '../../response/model.ts';
import type { StoredAlert } from '../../stores/alerts/types.ts';
import {
  DISPOSITIONS, INCIDENT_STATUSES, IncidentError, type AuditHook, type Changes, type Disposition, type Incident, type IncidentDetail,
  type IncidentPatch, type IncidentStatus, type IncidentStore,
} from '../../stores/incidents/types.ts';
import { HttpError, intSchema, problem } from '../http.ts';
import { checkTimeCursor } from '../pagination.ts';
import type { ApiOptions } from '../server.ts';
import { answers, ref } from '../schemas/index.ts';
import { actionView } from './response.ts';

const MAX_LIST = 1000;
/** Alerts of an incident GET /incidents/{id} summarises and takes events from. */
const MAX_DETAIL_ALERTS = 500;
const MAX_TIMELINE = 2000;
const MAX_MOVE = 500;
const MAX_WINDOW_ACTIONS = 200;

const READ = { config: { access: 'alerts:read' as const } };
const TRIAGE = { config: { access: 'alerts:triage' as const } };
const RECORD = answers({ 200: ref('IncidentRecord') });
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;

const list = (v: string | undefined) => v?.split(',').map((s) => s.trim()).filter(Boolean);

export function incidentView(i: Incident) {
  const { tenant_id: _tenant, ...rest } = i;
  void _tenant;
  return rest;
}

export function incidentDetailView(i: IncidentDetail) {
  return incidentView(i);
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? v as Json : {});
const text = (v: unknown): string | null => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null);

function processSummary(p: unknown) {
  const x = obj(p);
  if (!x.entity_id && !x.pid && !x.executable) return null;
  return { entity_id: text(x.entity_id), pid: typeof x.pid === 'number' ? x.pid : null, executable: text(x.executable), command_line: text(x.command_line) };
}

function alertSummary(a: StoredAlert) {
  return {
    id: a.id, rule: { id: a.rule.id, title: a.rule.title, level: a.rule.level }, severity: a.rule.level, status: a.status, type: a.rule.type,
    host_id: a.host_id ?? null, hostname: hostnameOf(a), process: a.process ? processSummary(a.process) : null,
    first_seen: a.first_seen, last_seen: a.last_seen, occurrences: a.occurrences ?? 1, techniques: a.mitre.map((t) => t.id),
  };
}

function hostnameOf(a: StoredAlert): string | null {
  for (const e of a.events) {
    const name = text(obj(obj(e).host).hostname) ?? text(obj(obj(e).agent).hostname);
    if (name) return name;
  }
  return null;
}

interface TimelineEntry { at: string; kind: 'alert' | 'event' | 'action'; [k: string]: unknown }

function timelineOf(alerts: StoredAlert[], actions: ReturnType<typeof linkedView>[]): { timeline: TimelineEntry[]; truncated: boolean } {
  const out: TimelineEntry[] = [];
  for (const a of alerts) {
    out.push({ at: a.first_seen, kind: 'alert', alert_id: a.id, title: a.rule.title, severity: a.rule.level, host_id: a.host_id ?? null });
    a.events.forEach((e, i) => {
      const ev = obj(obj(e).event);
      const at = text(obj(e)['@timestamp']) ?? a.first_seen;
      out.push({
        at, kind: 'event', alert_id: a.id, event_id: text(ev.id) ?? a.event_ids[i] ?? null, type: text(ev.type), action: text(ev.action),
        host_id: a.host_id ?? null, process: processSummary(obj(e).process),
      });
    });
  }
  for (const x of actions) out.push({ at: x.requested_at, kind: 'action', action_id: x.id, action: x.action, status: x.status, host_id: x.host_id, requested_by: x.requested_by });
  // Time order; at one time alerts before their events, events before actions; then by id for a stable order.
  const rank = { alert: 0, event: 1, action: 2 };
  const seen = new Set<string>();
  const unique = out.filter((e) => {
    const key = e.kind === 'event' ? `e:${String(e.event_id)}:${String(e.alert_id)}` : e.kind === 'alert' ? `a:${String(e.alert_id)}` : `x:${String(e.action_id)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  unique.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : rank[a.kind] - rank[b.kind]));
  return { timeline: unique.slice(0, MAX_TIMELINE), truncated: unique.length > MAX_TIMELINE };
}

function linkedView(c: CommandRecord, link: 'explicit' | 'host_window') {
  return { ...actionView(c), link };
}

function sendError(reply: FastifyReply, err: unknown) {
  if (err instanceof IncidentError) {
    const status = err.code === 'not_found' ? 404 : err.code === 'unknown_alert' ? 400 : 409;
    return problem(reply, status, status === 404 ? 'Not Found' : status === 400 ? 'Bad Request' : 'Conflict', err.message, { code: err.code });
  }
  throw err;
}

export function incidentRoutes(api: FastifyInstance, o: ApiOptions): void {
  const store: IncidentStore | undefined = o.incidents;
  const alerts = o.alerts;
  if (!store || !alerts) return;
  const ledger = o.security.ledger;

  const actorOf = (req: FastifyRequest) => req.principal!.subject;

  /**
   * Runs a change with its ledger record: the store calls the hook inside its transaction (row locked) before it
   * commits; if the change then fails, a `failure` record follows (best effort) and the error propagates.
   */
  async function audited<T>(req: FastifyRequest, action: string, id: string, change: (audit: AuditHook) => Promise<T>): Promise<T> {
    const p = req.principal!;
    const base = { actor: p.subject, tenantId: p.tenantId, action: `incidents.${action}`, target: `incident:${id}`, requestId: String(req.id) };
    let recorded: Changes | undefined;
    try {
      return await change(async (changes) => {
        await ledger.record({ ...base, outcome: 'success', detail: changes as { [k: string]: JsonValue } });
        recorded = changes;
      });
    } catch (err) {
      if (recorded) await ledger.record({ ...base, outcome: 'failure', detail: { ...(recorded as { [k: string]: JsonValue }), reason: 'error' } }).catch(() => undefined);
      throw err;
    }
  }

  async function detailed(tenantId: string, inc: IncidentDetail) {
    const ids = inc.alert_ids.slice(0, MAX_DETAIL_ALERTS);
    const stored = (await Promise.all(ids.map((id) => alerts!.get(tenantId, id)))).filter((a): a is StoredAlert => a !== undefined);
    const actions: ReturnType<typeof linkedView>[] = [];
    if (o.response) {
      const explicit = (await Promise.all(inc.action_ids.map((id) => o.response!.get(tenantId, id)))).filter((c): c is CommandRecord => c !== undefined);
      actions.push(...explicit.map((c) => linkedView(c, 'explicit')));
      const known = new Set(explicit.map((c) => c.id));
      const from = Date.parse(inc.first_seen);
      const until = Date.parse(inc.last_seen) + WINDOW_MS;
      for (const hostId of inc.host_ids) {
        const near = await o.response.list(tenantId, { hostId, limit: MAX_WINDOW_ACTIONS, before: until + 1 });
        for (const c of near) {
          if (c.requestedAt >= from && c.requestedAt <= until && !known.has(c.id)) { known.add(c.id); actions.push(linkedView(c, 'host_window')); }
        }
      }
    }
    actions.sort((a, b) => (a.requested_at < b.requested_at ? -1 : a.requested_at > b.requested_at ? 1 : 0));
    const { timeline, truncated } = timelineOf(stored, actions);
    return { ...incidentDetailView(inc), alerts: stored.map(alertSummary), actions, timeline, timeline_truncated: truncated || inc.alert_ids.length > ids.length };
  }

  api.get<{ Querystring: { status?: string; severity?: string; assignee?: string; host?: string; limit?: number; cursor?: string } }>('/incidents', {
    ...READ,
    schema: { querystring: { type: 'object', additionalProperties: false, properties: {
      status: { type: 'string', maxLength: 200 }, severity: { type: 'string', maxLength: 200 }, assignee: { type: 'string', minLength: 1, maxLength: 200 },
      host: { type: 'string', minLength: 1, maxLength: 128 }, limit: intSchema(1, MAX_LIST), cursor: { type: 'string', minLength: 1, maxLength: 512 } } },
      response: answers({ 200: ref('IncidentPage') }) },
  }, async (req, reply) => {
    const q = req.query;
    const statuses = list(q.status);
    const badStatus = statuses?.find((s) => !(INCIDENT_STATUSES as readonly string[]).includes(s));
    if (badStatus) return problem(reply, 400, 'Bad Request', `unknown status '${badStatus}' (one of ${INCIDENT_STATUSES.join(', ')})`, { code: 'invalid_request' });
    const severities = list(q.severity);
    const badLevel = severities?.find((s) => !(LEVELS as readonly string[]).includes(s));
    if (badLevel) return problem(reply, 400, 'Bad Request', `unknown severity '${badLevel}' (one of ${LEVELS.join(', ')})`, { code: 'invalid_request' });
    checkTimeCursor(q.cursor);
    try {
      const page = await store.list({
        tenantId: req.principal!.tenantId, statuses: statuses as IncidentStatus[] | undefined, severities: severities as IncidentLevel[] | undefined,
        assignee: q.assignee === undefined ? undefined : q.assignee === 'none' ? null : q.assignee, hostId: q.host, limit: q.limit ?? 100, cursor: q.cursor,
      });
      return { incidents: page.incidents.map(incidentView), next: page.next, total: page.total };
    } catch (err) {
      if ((err as Error).message === 'invalid cursor') return problem(reply, 400, 'Bad Request', 'invalid cursor', { code: 'invalid_cursor' });
      throw err;
    }
  });

  api.get<{ Params: { id: string } }>('/incidents/:id', { ...READ, schema: { params: idParams, response: answers({ 200: ref('IncidentDetail') }) } }, async (req, reply) => {
    const tenantId = req.principal!.tenantId;
    const inc = await store.get(tenantId, req.params.id);
    return inc ? detailed(tenantId, inc) : problem(reply, 404, 'Not Found', 'no such incident', { code: 'not_found' });
  });

  api.get<{ Params: { id: string } }>('/alerts/:id/incident', { ...READ, schema: { params: idParams, response: RECORD } }, async (req, reply) => {
    const tenantId = req.principal!.tenantId;
    const id = await store.incidentOfAlert(tenantId, req.params.id);
    const inc = id ? await store.get(tenantId, id) : undefined;
    return inc ? incidentDetailView(inc) : problem(reply, 404, 'Not Found', 'the alert is in no incident', { code: 'not_found' });
  });

  api.patch<{ Params: { id: string }; Body: IncidentPatch }>('/incidents/:id', {
    ...TRIAGE,
    schema: { params: idParams, body: { type: 'object', additionalProperties: false, minProperties: 1, properties: {
      status: { type: 'string', enum: ['open', 'investigating'] },
      assignee: { type: ['string', 'null'], minLength: 1, maxLength: 200 },
      severity: { type: ['string', 'null'], enum: [...LEVELS, null] },
      title: { type: 'string', minLength: 1, maxLength: 300 } } }, response: RECORD },
  }, async (req, reply) => {
    const p = req.principal!;
    const b = req.body;
    if (typeof b.assignee === 'string' && !(await o.security.identity.getUser(p.tenantId, b.assignee))) {
      return problem(reply, 400, 'Bad Request', `no user '${b.assignee}' in this tenant`, { code: 'unknown_assignee' });
    }
    if (typeof b.title === 'string' && b.title.trim() === '') throw new HttpError(400, 'title must not be blank', 'invalid_request');
    try {
      const inc = await audited(req, 'update', req.params.id, (audit) => store.update(p.tenantId, req.params.id, {
        ...(b.status !== undefined ? { status: b.status } : {}), ...(b.assignee !== undefined ? { assignee: b.assignee } : {}),
        ...(b.severity !== undefined ? { severity: b.severity } : {}), ...(b.title !== undefined ? { title: b.title.trim() } : {}),
      }, actorOf(req), (c) => audit({ changes: c as JsonValue } as Changes)));
      return incidentDetailView(inc);
    } catch (err) {
      return sendError(reply, err);
    }
  });

  api.post<{ Params: { id: string }; Body: { text: string } }>('/incidents/:id/notes', {
    ...TRIAGE,
    schema: { params: idParams, body: { type: 'object', additionalProperties: false, required: ['text'], properties: { text: { type: 'string', minLength: 1, maxLength: 10_000 } } }, response: answers({ 201: ref('IncidentRecord') }) },
  }, async (req, reply) => {
    const p = req.principal!;
    try {
      const inc = await audited(req, 'note', req.params.id, (audit) => store.addNote(p.tenantId, req.params.id, { author: p.subject, text: req.body.text, at: new Date().toISOString() }, audit));
      return reply.code(201).send(incidentDetailView(inc));
    } catch (err) {
      return sendError(reply, err);
    }
  });

  api.post<{ Params: { id: string }; Body: { disposition: Disposition; reason: string } }>('/incidents/:id/close', {
    ...TRIAGE,
    schema: { params: idParams, body: { type: 'object', additionalProperties: false, required: ['disposition', 'reason'], properties: {
      disposition: { type: 'string', enum: [...DISPOSITIONS] }, reason: { type: 'string', minLength: 1, maxLength: 2000 } } }, response: RECORD },
  }, async (req, reply) => {
    const p = req.principal!;
    try {
      return incidentDetailView(await audited(req, 'close', req.params.id, (audit) => store.closeIncident(p.tenantId, req.params.id, { ...req.body, actor: p.subject }, audit)));
    } catch (err) {
      return sendError(reply, err);
    }
  });

  api.post<{ Params: { id: string }; Body: { reason?: string } }>('/incidents/:id/reopen', {
    ...TRIAGE,
    schema: { params: idParams, body: { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', minLength: 1, maxLength: 2000 } } }, response: RECORD },
  }, async (req, reply) => {
    const p = req.principal!;
    try {
      return incidentDetailView(await audited(req, 'reopen', req.params.id, (audit) => store.reopen(p.tenantId, req.params.id, { reason: req.body?.reason, actor: p.subject }, audit)));
    } catch (err) {
      return sendError(reply, err);
    }
  });

  const idList = { type: 'array', maxItems: MAX_MOVE, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 128 } } as const;
  const moveBody = { type: 'object', additionalProperties: false, minProperties: 1, properties: { add: idList, remove: idList } } as const;

  api.post<{ Params: { id: string }; Body: { add?: string[]; remove?: string[] } }>('/incidents/:id/alerts', {
    ...TRIAGE, schema: { params: idParams, body: moveBody, response: answers({ 200: ref('IncidentMove') }) },
  }, async (req, reply) => {
    const p = req.principal!;
    if (!(await store.get(p.tenantId, req.params.id))) return problem(reply, 404, 'Not Found', 'no such incident', { code: 'not_found' });
    const add = req.body.add ?? [];
    const remove = req.body.remove ?? [];
    const facts: AlertFacts[] = [];
    for (const id of add) {
      const a = await alerts.get(p.tenantId, id);
      if (!a) return problem(reply, 400, 'Bad Request', `no such alert '${id}'`, { code: 'unknown_alert' });
      facts.push(alertFacts(a));
    }
    try {
      const r = await audited(req, 'alerts', req.params.id, (audit) => store.moveAlerts(p.tenantId, req.params.id, { add: facts, remove, actor: p.subject }, audit));
      return { incident: incidentDetailView(r.incident), split_into: r.split_into };
    } catch (err) {
      return sendError(reply, err);
    }
  });

  api.post<{ Params: { id: string }; Body: { add?: string[]; remove?: string[] } }>('/incidents/:id/actions', {
    ...TRIAGE, schema: { params: idParams, body: moveBody, response: RECORD },
  }, async (req, reply) => {
    const p = req.principal!;
    if (!(await store.get(p.tenantId, req.params.id))) return problem(reply, 404, 'Not Found', 'no such incident', { code: 'not_found' });
    const add = req.body.add ?? [];
    for (const id of add) {
      if (!o.response || !(await o.response.get(p.tenantId, id))) return problem(reply, 400, 'Bad Request', `no such response action '${id}'`, { code: 'unknown_action' });
    }
    try {
      return incidentDetailView(await audited(req, 'actions', req.params.id, (audit) => store.linkActions(p.tenantId, req.params.id, { add, remove: req.body.remove ?? [], actor: p.subject }, audit)));
    } catch (err) {
      return sendError(reply, err);
    }
  });
}
