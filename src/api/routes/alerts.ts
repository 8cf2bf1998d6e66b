// Alert routes: the list with filters (severity, status, host by id or name, rule, process, disposition, time,
// and user, file path and process hash from the alert's kept events),
// exact totals and keyset cursors, or grouped by rule, host or process; one alert with its events, rule (with its
// author, as the rule licence requires) and MITRE techniques; triage in place (acknowledge, assign, close with a
// disposition and a reason, comment) and in bulk over a filtered selection. Each triage call's ledger entry
// carries what it changed (`req.auditDetail`). Suppression is gone: exceptions replace it (routes/exceptions.ts).

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { MetadataStore } from '../../stores/metadata/types.ts';
import {
  ALERT_STATUSES, DISPOSITIONS, GROUP_BY, MAX_BULK, type AlertFilter, type AlertStatus, type BulkAction, type Disposition, type GroupBy,
  type StoredAlert, type TriageAction,
} from '../../stores/alerts/types.ts';
import { HttpError, intSchema, isApiTime, isoTimeSchema, parseTime, problem } from '../http.ts';
import { checkTimeCursor } from '../pagination.ts';
import type { ApiOptions } from '../server.ts';
import { answers, ref } from '../schemas/index.ts';

const MAX_ALERTS = 1000;
const ALERT = answers({ 200: ref('Alert') });

export function alertView(a: StoredAlert) {
  const { mitre, ...rest } = a;
  return {
    ...rest, occurrences: a.occurrences ?? 1, severity: a.rule.level, techniques: mitre,
    disposition: a.disposition ?? null, exception_id: a.exception_id ?? null,
  };
}

const splitList = (v: string | string[] | undefined): string[] | undefined => {
  if (v === undefined) return undefined;
  const values = (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  return values.length ? values : undefined;
};

function oneOf<T extends string>(name: string, values: string[] | undefined, allowed: readonly T[]): T[] | undefined {
  const bad = values?.find((s) => !(allowed as readonly string[]).includes(s));
  if (bad !== undefined) throw new HttpError(400, `unknown ${name} '${bad}' (one of ${allowed.join(', ')})`, 'invalid_request');
  return values as T[] | undefined;
}

/** The list's filters, as a query string or as the `filter` of POST /alerts/bulk. */
export interface FilterInput {
  severity?: string | string[]; status?: string | string[]; disposition?: string | string[];
  host?: string; rule?: string; process_entity_id?: string; from?: string; to?: string;
  user?: string; file?: string; hash?: string;
}

const listSchema = { type: 'array', maxItems: 20, items: { type: 'string', minLength: 1, maxLength: 200 } } as const;
const filterProperties = {
  host: { type: 'string', minLength: 1, maxLength: 256 }, rule: { type: 'string', minLength: 1, maxLength: 256 },
  process_entity_id: { type: 'string', minLength: 1, maxLength: 256 }, from: isoTimeSchema, to: isoTimeSchema,
  user: { type: 'string', minLength: 1, maxLength: 256 }, file: { type: 'string', minLength: 1, maxLength: 1024 },
  hash: { type: 'string', pattern: '^[0-9A-Fa-f]{64}$' },
} as const;

/**
 * The hosts `host` names in the tenant: the host of that id when there is one, else every host of that hostname;
 * when neither, the value itself (alerts may name a host the metadata store does not know).
 */
export async function resolveHost(metadata: MetadataStore, tenantId: string, host: string): Promise<string[]> {
  if (await metadata.getHost(tenantId, host)) return [host];
  const named = (await metadata.listHosts(tenantId)).filter((h) => h.hostname === host).map((h) => h.id);
  return named.length ? named : [host];
}

async function toFilter(o: ApiOptions, tenantId: string, f: FilterInput): Promise<AlertFilter> {
  return {
    tenantId,
    severities: splitList(f.severity),
    statuses: oneOf<AlertStatus>('status', splitList(f.status), ALERT_STATUSES),
    dispositions: oneOf<Disposition>('disposition', splitList(f.disposition), DISPOSITIONS),
    hostIds: f.host === undefined ? undefined : await resolveHost(o.metadata, tenantId, f.host),
    ruleId: f.rule, processEntityId: f.process_entity_id,
    userName: f.user, filePath: f.file, sha256: f.hash?.toLowerCase(),
    from: parseTime(f.from, 'from'), to: parseTime(f.to, 'to'),
  };
}

/** A grouped list's cursor must be of the same grouping, with a time and a key the stores take. */
function checkGroupCursor(cursor: string | undefined, by: GroupBy): void {
  if (cursor === undefined) return;
  let v: unknown;
  try { v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')); } catch { v = undefined; }
  const ok = Array.isArray(v) && v.length === 3 && v[0] === by && isApiTime(v[1]) && typeof v[2] === 'string' && v[2].isWellFormed();
  if (!ok) throw new HttpError(400, 'invalid cursor', 'invalid_cursor');
}

const dispositionSchema = { type: 'string', enum: [...DISPOSITIONS] } as const;
const reasonSchema = { type: 'string', minLength: 1, maxLength: 2000 } as const;
const assigneeSchema = { type: 'string', minLength: 1, maxLength: 200 } as const;

const triageBodies: Record<string, object> = {
  acknowledge: { type: 'object', additionalProperties: false, properties: {} },
  assign: { type: 'object', additionalProperties: false, required: ['assignee'], properties: { assignee: assigneeSchema } },
  close: { type: 'object', additionalProperties: false, required: ['disposition', 'reason'], properties: { disposition: dispositionSchema, reason: reasonSchema } },
  comment: { type: 'object', additionalProperties: false, required: ['text'], properties: { text: { type: 'string', minLength: 1, maxLength: 10_000 } } },
};

function triageAction(action: string, body: Record<string, string>): TriageAction {
  switch (action) {
    case 'assign': return { action, assignee: body.assignee };
    case 'close': return { action, reason: body.reason, disposition: body.disposition as Disposition };
    case 'comment': return { action, text: body.text };
    default: return { action: 'acknowledge' };
  }
}

interface BulkBody {
  filter?: FilterInput; ids?: string[]; action: BulkAction['action']; assignee?: string; disposition?: Disposition; reason?: string;
}

function bulkAction(b: BulkBody): BulkAction {
  switch (b.action) {
    case 'assign':
      if (b.assignee === undefined) throw new HttpError(400, 'assign needs an assignee', 'invalid_request');
      return { action: 'assign', assignee: b.assignee };
    case 'close':
      if (b.disposition === undefined || b.reason === undefined) throw new HttpError(400, 'close needs a disposition and a reason', 'invalid_request');
      return { action: 'close', disposition: b.disposition, reason: b.reason };
    default: return { action: 'acknowledge' };
  }
}

export function alertRoutes(api: FastifyInstance, o: ApiOptions): void {
  const store = o.alerts;
  if (!store) return;

  api.get<{ Querystring: FilterInput & { group_by?: GroupBy; limit?: number; cursor?: string } }>('/alerts', {
    config: { access: 'alerts:read' },
    schema: { querystring: { type: 'object', additionalProperties: false, properties: {
      severity: { type: 'string', maxLength: 200 }, status: { type: 'string', maxLength: 200 }, disposition: { type: 'string', maxLength: 200 },
      ...filterProperties, group_by: { type: 'string', enum: [...GROUP_BY] },
      limit: intSchema(1, MAX_ALERTS), cursor: { type: 'string', minLength: 1, maxLength: 1024 } } }, response: answers({ 200: ref('AlertListing') }) },
  }, async (req, reply) => {
    const q = req.query;
    const tenantId = req.principal!.tenantId;
    const filter = await toFilter(o, tenantId, q);
    const limit = q.limit ?? 100;
    try {
      if (q.group_by) {
        checkGroupCursor(q.cursor, q.group_by);
        const [page, total] = await Promise.all([store.groups({ ...filter, limit, cursor: q.cursor }, q.group_by), store.count(filter)]);
        if (q.group_by === 'host') {
          const names = new Map((await o.metadata.listHosts(tenantId)).map((h) => [h.id, h.hostname]));
          for (const g of page.groups) g.label = names.get(g.key) ?? null;
        }
        return { groups: page.groups, next: page.next, total, total_groups: page.total_groups };
      }
      checkTimeCursor(q.cursor);
      const [page, total] = await Promise.all([store.list({ ...filter, limit, cursor: q.cursor }), store.count(filter)]);
      return { alerts: page.alerts.map(alertView), next: page.next, total };
    } catch (err) {
      if ((err as Error).message === 'invalid cursor') return problem(reply, 400, 'Bad Request', 'invalid cursor', { code: 'invalid_cursor' });
      throw err;
    }
  });

  api.get<{ Params: { id: string } }>('/alerts/:id', { config: { access: 'alerts:read' }, schema: { response: ALERT } }, async (req, reply) => {
    const a = await store.get(req.principal!.tenantId, req.params.id);
    return a ? alertView(a) : problem(reply, 404, 'Not Found', 'no such alert');
  });

  api.post<{ Body: BulkBody }>('/alerts/bulk', {
    config: { access: 'alerts:triage' },
    schema: { body: { type: 'object', additionalProperties: false, required: ['action'], properties: {
      filter: { type: 'object', additionalProperties: false, properties: {
        severity: listSchema, status: listSchema, disposition: listSchema, ...filterProperties } },
      ids: { type: 'array', minItems: 1, maxItems: MAX_BULK, items: { type: 'string', minLength: 1, maxLength: 128 } },
      action: { type: 'string', enum: ['acknowledge', 'assign', 'close'] },
      assignee: assigneeSchema, disposition: dispositionSchema, reason: reasonSchema } }, response: answers({ 200: ref('BulkTriageResult') }) },
  }, async (req) => {
    const b = req.body;
    if (b.filter === undefined && b.ids === undefined) throw new HttpError(400, 'give a filter (an empty one selects every alert) or ids', 'invalid_request');
    const action = bulkAction(b);
    const p = req.principal!;
    const filter = { ...await toFilter(o, p.tenantId, b.filter ?? {}), ids: b.ids };
    const r = await store.bulkTriage(filter, p.subject, action, MAX_BULK);
    req.auditDetail = { bulk: {
      ...action, filter: (b.filter ?? {}) as { [k: string]: string | string[] }, ids_given: b.ids?.length ?? 0, changed: r.changed.length, ids: r.changed,
    } };
    return { action: action.action, matched: r.matched, changed: r.changed.length, remaining: r.remaining };
  });

  for (const action of Object.keys(triageBodies)) {
    api.post<{ Params: { id: string }; Body: Record<string, string> }>(`/alerts/:id/${action}`, { config: { access: 'alerts:triage' }, schema: { body: triageBodies[action], response: ALERT } },
      async (req: FastifyRequest<{ Params: { id: string }; Body: Record<string, string> }>, reply: FastifyReply) => {
        const p = req.principal!;
        const t = triageAction(action, req.body ?? {});
        req.auditDetail = { triage: { ...t } };
        const updated = await store.triage(p.tenantId, req.params.id, p.subject, t);
        return updated ? alertView(updated) : problem(reply, 404, 'Not Found', 'no such alert');
      });
  }

  api.post<{ Params: { id: string } }>('/alerts/:id/suppress', { config: { access: 'alerts:triage' }, schema: { response: answers({}) } }, async (_req, reply) =>
    problem(reply, 400, 'Bad Request', 'suppression was replaced by exceptions: POST /api/v1/alerts/{id}/exception makes one from this alert, '
      + 'POST /api/v1/exceptions makes one from conditions (docs/api.md, Exceptions)', { code: 'suppress_removed' }));
}
