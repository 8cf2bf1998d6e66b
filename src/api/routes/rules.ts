// Rule routes: list (with origin, status and whether enabled), one rule with its text, upload (Sigma YAML
// or the JSON rule form; compile errors come back with their line), replace, delete, enable/disable, and a
// dry run of a rule text over a range of stored events (bounded by a time budget, saying what it read). A rule text loads whole or not at all.
// A rule that names an automated response acts on hosts: writing one (upload, replace) or switching one on needs
// `ir:execute` besides `rules:write` (403 otherwise), and it is owned by the writer's tenant, the only tenant its
// response may run in. Every change is recorded in the audit ledger as `rules.<change>` with the writer and its
// tenant, the rule ids, the text's digest and the responses it names.

import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RuleCoverage } from '../../detect/logsources.ts';
import type { ChangeResult, RuleInfo } from '../../detect/registry.ts';
import type { RuleWriter } from '../../detect/rule-service.ts';
import { hasPermission } from '../../identity/permissions.ts';
import type { JsonValue } from '../../ledger/canonical.ts';
import { problem } from '../http.ts';
import type { ApiOptions } from '../server.ts';
import { answers, ref } from '../schemas/index.ts';

const MAX_RULE_BYTES = 512 * 1024;
/** Events per page of a dry run (one event-store query each). */
const TEST_PAGE_EVENTS = 10_000;
const DEFAULT_TEST_BUDGET_S = 10;
const MAX_TEST_BUDGET_S = 60;
const CHANGE = answers({ 200: ref('RuleChange') });
const ORIGIN_NAMES = { builtin: 'builtin', directory: 'sigma', uploaded: 'custom' } as const;

const textBody = { type: 'object', additionalProperties: false, required: ['yaml'], properties: { yaml: { type: 'string', minLength: 1, maxLength: MAX_RULE_BYTES } } };

/** A rule as the API shows it; `coverage` says whether Vigil collects the events it needs (docs/rules.md). */
export function ruleView(r: RuleInfo, coverage?: RuleCoverage) {
  return {
    id: r.id, title: r.title, kind: r.kind, author: r.author ?? null, level: r.level, status: r.status ?? null, enabled: r.enabled,
    source: ORIGIN_NAMES[r.origin], file: r.source ?? null, logsource: r.logsource ?? null, techniques: r.mitre,
    response: r.response ?? null, owner: r.owner ?? null,
    ...(coverage ? { coverage: coverage.coverage, coverage_reason: coverage.reason, coverage_logsource: coverage.logsource } : {}),
  };
}

const STATUS_OF_FAILURE = { invalid: 400, not_found: 404, conflict: 409, read_only: 409, forbidden: 403 } as const;

/** The principal writing a rule: its tenant owns what it uploads; it may give rules a response only with ir:execute. */
function writerOf(req: FastifyRequest): RuleWriter {
  const p = req.principal!;
  return { tenantId: p.tenantId, actor: p.subject, mayRespond: hasPermission(p.role, 'ir:execute') };
}

function changeReply(reply: FastifyReply, r: ChangeResult, okStatus: number, rules: (ids: string[]) => unknown) {
  if (r.ok) return reply.code(okStatus).send({ ids: r.ids, rules: rules(r.ids) });
  const status = STATUS_OF_FAILURE[r.status];
  return reply.code(status).type('application/problem+json').send({
    type: 'about:blank', title: r.status === 'invalid' ? 'Rule does not compile' : r.status === 'forbidden' ? 'Forbidden' : 'Rule change refused', status,
    detail: r.rejected.map((x) => x.reason).join('; '),
    errors: r.rejected.map((x) => ({ id: x.id ?? null, line: x.line ?? null, message: x.reason })),
  });
}

export function ruleRoutes(api: FastifyInstance, o: ApiOptions): void {
  const rules = o.rules;
  if (!rules) return;
  const view = (r: RuleInfo) => ruleView(r, rules.coverage().get(r.id));
  const views = (ids: string[]) => rules.list().filter((r) => ids.includes(r.id)).map(view);

  const read = { config: { access: 'rules:read' as const } };
  // The rule set is one for the whole deployment: only the platform's own tenant (and the super-admin) change
  // it; other tenants' authors may read it and dry-run rule texts over their own events.
  const home = o.defaultTenant ?? 'default';
  const platformOnly = async (req: FastifyRequest, reply: FastifyReply) => {
    const p = req.principal!;
    if (p.role !== 'super-admin' && p.tenantId !== home) {
      return problem(reply, 403, 'Forbidden', `detection rules are shared by every tenant and managed by the platform's tenant '${home}'`);
    }
  };
  const author = { config: { access: 'rules:write' as const } };
  const write = { ...author, preHandler: platformOnly };

  /** Records a rule change in the audit ledger: who (and in which tenant) changed which rules, to what. */
  const audit = async (req: FastifyRequest, change: string, ids: string[], text?: string, removed?: string) => {
    const w = writerOf(req);
    const detail: { [k: string]: JsonValue } = { ids };
    if (text !== undefined) { // an upload or replacement: its rules now belong to the writer's tenant
      detail.owner_tenant = w.tenantId;
      detail.sha256 = createHash('sha256').update(text).digest('hex');
      detail.responses = ids.flatMap((id) => { const a = rules.get(id)?.info.response; return a ? [`${id}:${a}`] : []; });
    }
    if (removed !== undefined) detail.removed_sha256 = createHash('sha256').update(removed).digest('hex'); // the text a deletion removed
    await o.security.ledger.record({ actor: w.actor, tenantId: w.tenantId, action: `rules.${change}`, target: ids.map((id) => `rule:${id}`).join(','), outcome: 'success', requestId: String(req.id), detail });
  };

  api.get('/rules', { config: { access: 'rules:read', etag: true }, schema: { response: answers({ 200: ref('RuleList') }) } }, async () => {
    const list = rules.list().map(view);
    const coverage = { collected: 0, partial: 0, not_collected: 0 };
    for (const r of list) if (r.coverage) coverage[r.coverage]++;
    return { rules: list, rejected: rules.rejected().length, coverage };
  });

  api.get<{ Params: { id: string } }>('/rules/:id', { ...read, schema: { response: answers({ 200: ref('RuleDetail') }) } }, async (req, reply) => {
    const r = rules.get(req.params.id);
    return r ? { ...view(r.info), text: r.text } : problem(reply, 404, 'Not Found', 'no such rule');
  });

  api.post<{ Body: { yaml: string } }>('/rules', { ...write, schema: { body: textBody, response: answers({ 201: ref('RuleChange') }) } }, async (req, reply) => {
    const r = await rules.add(req.body.yaml, writerOf(req));
    if (r.ok) await audit(req, 'create', r.ids, req.body.yaml);
    return changeReply(reply, r, 201, views);
  });

  api.put<{ Params: { id: string }; Body: { yaml: string } }>('/rules/:id', { ...write, schema: { body: textBody, response: CHANGE } }, async (req, reply) => {
    const r = await rules.replace(req.params.id, req.body.yaml, writerOf(req));
    if (r.ok) await audit(req, 'update', r.ids, req.body.yaml);
    return changeReply(reply, r, 200, views);
  });

  api.delete<{ Params: { id: string } }>('/rules/:id', { ...write, schema: { response: CHANGE } }, async (req, reply) => {
    const removed = rules.get(req.params.id)?.text;
    const r = await rules.delete(req.params.id);
    if (r.ok) await audit(req, 'delete', r.ids, undefined, removed);
    return changeReply(reply, r, 200, () => []);
  });

  for (const [path, enabled] of [['enable', true], ['disable', false]] as const) {
    api.post<{ Params: { id: string } }>(`/rules/:id/${path}`, { ...write, schema: { response: answers({ 200: ref('Rule') }) } }, async (req, reply) => {
      const w = writerOf(req);
      const response = rules.get(req.params.id)?.info.response;
      if (enabled && response && !w.mayRespond) {
        return problem(reply, 403, 'Forbidden', `rule ${req.params.id} names an automated response (${response}); switching it on needs the ir:execute permission`);
      }
      if (!await rules.setEnabled(req.params.id, enabled, w)) return problem(reply, 404, 'Not Found', 'no such rule');
      await audit(req, path, [req.params.id]);
      return view(rules.get(req.params.id)!.info);
    });
  }

  // A dry run reads the requested range of the caller's stored events (default: the last 24 h), newest first, page by
  // page with the store's keyset cursor, until the range is read or its time budget is spent, and says which.
  api.post<{ Body: { yaml: string; hours?: number; from?: string; to?: string; budget_seconds?: number } }>('/rules/test', {
    ...author,
    schema: { body: { ...textBody, properties: { ...textBody.properties,
      hours: { type: 'integer', minimum: 1, maximum: 24 * 30 },
      from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' },
      budget_seconds: { type: 'integer', minimum: 1, maximum: MAX_TEST_BUDGET_S } } }, response: answers({ 200: ref('RuleTestResult') }) },
  }, async (req, reply) => {
    const b = req.body;
    if (b.hours !== undefined && b.from !== undefined) return problem(reply, 400, 'Bad Request', 'give either hours or from, not both', { code: 'invalid_request' });
    const to = b.to ? new Date(b.to) : new Date();
    const from = b.from ? new Date(b.from) : new Date(to.getTime() - (b.hours ?? 24) * 3_600_000);
    if (!(from < to)) return problem(reply, 400, 'Bad Request', 'from must be before to', { code: 'invalid_request' });
    const budgetSeconds = b.budget_seconds ?? DEFAULT_TEST_BUDGET_S;
    const tenantId = req.principal!.tenantId;
    const r = await rules.scan(b.yaml, {
      budgetMs: budgetSeconds * 1000,
      page: (cursor, types) => o.events.queryEvents({ tenantId, from, to, types, cursor, limit: TEST_PAGE_EVENTS }),
    });
    if (r.rejected.length) return changeReply(reply, { ok: false, status: 'invalid', rejected: r.rejected }, 200, () => []);
    const coveredFrom = r.complete ? from.toISOString() : r.oldestScanned ?? to.toISOString();
    const range = `${from.toISOString()} – ${to.toISOString()}`;
    const summary = r.complete
      ? `${r.matches} matches in ${r.eventsScanned} events scanned, the whole range ${range}`
      : `${r.matches} matches in ${r.eventsScanned} events scanned; stopped at the ${budgetSeconds} s budget: only ${coveredFrom} – ${to.toISOString()} of ${range} was read`;
    return {
      matches: r.matches, events_tested: r.eventsScanned, alerts: r.alerts, alerts_truncated: r.matches > r.alerts.length,
      scan: {
        from: from.toISOString(), to: to.toISOString(), events_scanned: r.eventsScanned, pages: r.pages, event_types: r.eventTypes ?? null,
        complete: r.complete, stopped_at_budget: r.stoppedAtBudget, covered_from: coveredFrom, budget_seconds: budgetSeconds, elapsed_ms: r.elapsedMs,
        oldest_event: r.oldestScanned ?? null, newest_event: r.newestScanned ?? null, summary,
      },
    };
  });
}
