// Rule routes: list (with origin, status and whether enabled), one rule with its text, upload (Sigma YAML
// or the JSON rule form; compile errors come back with their line), replace, delete, enable/disable, and a
// dry run of a rule text over the last hours of stored events. A rule text loads whole or not at all.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ChangeResult, RuleInfo } from '../../detect/registry.ts';
import { problem } from '../http.ts';
import type { ApiOptions } from '../server.ts';

const MAX_RULE_BYTES = 512 * 1024;
const TEST_EVENTS = 10_000;
const ORIGIN_NAMES = { builtin: 'builtin', directory: 'sigma', uploaded: 'custom' } as const;

const textBody = { type: 'object', additionalProperties: false, required: ['yaml'], properties: { yaml: { type: 'string', minLength: 1, maxLength: MAX_RULE_BYTES } } };

export function ruleView(r: RuleInfo) {
  return {
    id: r.id, title: r.title, kind: r.kind, author: r.author ?? null, level: r.level, status: r.status ?? null, enabled: r.enabled,
    source: ORIGIN_NAMES[r.origin], file: r.source ?? null, logsource: r.logsource ?? null, techniques: r.mitre,
  };
}

const STATUS_OF_FAILURE = { invalid: 400, not_found: 404, conflict: 409, read_only: 409 } as const;

function changeReply(reply: FastifyReply, r: ChangeResult, okStatus: number, rules: (ids: string[]) => unknown) {
  if (r.ok) return reply.code(okStatus).send({ ids: r.ids, rules: rules(r.ids) });
  const status = STATUS_OF_FAILURE[r.status];
  return reply.code(status).type('application/problem+json').send({
    type: 'about:blank', title: r.status === 'invalid' ? 'Rule does not compile' : 'Rule change refused', status,
    detail: r.rejected.map((x) => x.reason).join('; '),
    errors: r.rejected.map((x) => ({ id: x.id ?? null, line: x.line ?? null, message: x.reason })),
  });
}

export function ruleRoutes(api: FastifyInstance, o: ApiOptions): void {
  const rules = o.rules;
  if (!rules) return;
  const views = (ids: string[]) => rules.list().filter((r) => ids.includes(r.id)).map(ruleView);

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

  api.get('/rules', { config: { access: 'rules:read', etag: true } }, async () => ({ rules: rules.list().map(ruleView), rejected: rules.rejected().length }));

  api.get<{ Params: { id: string } }>('/rules/:id', read, async (req, reply) => {
    const r = rules.get(req.params.id);
    return r ? { ...ruleView(r.info), text: r.text } : problem(reply, 404, 'Not Found', 'no such rule');
  });

  api.post<{ Body: { yaml: string } }>('/rules', { ...write, schema: { body: textBody } }, async (req, reply) => {
    return changeReply(reply, await rules.add(req.body.yaml), 201, views);
  });

  api.put<{ Params: { id: string }; Body: { yaml: string } }>('/rules/:id', { ...write, schema: { body: textBody } }, async (req, reply) => {
    return changeReply(reply, await rules.replace(req.params.id, req.body.yaml), 200, views);
  });

  api.delete<{ Params: { id: string } }>('/rules/:id', write, async (req, reply) => {
    return changeReply(reply, await rules.delete(req.params.id), 200, () => []);
  });

  for (const [path, enabled] of [['enable', true], ['disable', false]] as const) {
    api.post<{ Params: { id: string } }>(`/rules/:id/${path}`, write, async (req, reply) => {
      if (!await rules.setEnabled(req.params.id, enabled)) return problem(reply, 404, 'Not Found', 'no such rule');
      return ruleView(rules.get(req.params.id)!.info);
    });
  }

  api.post<{ Body: { yaml: string; hours?: number } }>('/rules/test', {
    ...author,
    schema: { body: { ...textBody, properties: { ...textBody.properties, hours: { type: 'integer', minimum: 1, maximum: 24 * 30 } } } },
  }, async (req, reply) => {
    const from = new Date(Date.now() - (req.body.hours ?? 24) * 3_600_000);
    const page = await o.events.queryEvents({ tenantId: req.principal!.tenantId, from, limit: TEST_EVENTS });
    const r = rules.test(req.body.yaml, page.events);
    if (r.rejected.length) return changeReply(reply, { ok: false, status: 'invalid', rejected: r.rejected }, 200, () => []);
    return { matches: r.matches, events_tested: page.events.length, alerts: r.alerts.slice(0, 100) };
  });
}
