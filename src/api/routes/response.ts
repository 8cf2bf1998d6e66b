// Response-action routes (seed 002 §7): POST /hosts/{id}/isolate|release|kill-process|collect|list-processes|get-file,
// POST /ir/actions/{id}/approve, GET /ir/actions, GET /ir/actions/{id}, GET /ir/artifacts/{id}. Everything is
// tenant-scoped (another tenant's host, action or artefact is 404); requesting needs `ir:execute`, reading `ir:read`.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasPermission, type Permission } from '../../identity/permissions.ts';
import { COMMAND_STATUSES, MAX_REASON_CHARS, type CommandRecord, type CommandStatus, type ResponseAction } from '../../response/model.ts';
import { ResponseError, type Requester, type ResponseDispatcher } from '../../response/dispatcher.ts';
import { intSchema, isoTimeSchema, parseTime, problem } from '../http.ts';
import type { ApiOptions } from '../server.ts';
import { answers, ref } from '../schemas/index.ts';

/**
 * The requesting principal as the ledger names it: the identity module's `subject` (`user:<id>`, `apikey:<id>`), or
 * the API key id of the earlier API-key-only principal. The one place to change when principals change again.
 */
export function requesterOf(req: FastifyRequest): Requester {
  const p = req.principal as unknown as { subject?: string; keyId?: string; tenantId: string };
  return { actor: p.subject ?? `apikey:${p.keyId}`, tenantId: p.tenantId, requestId: String(req.id) };
}

/** Route declarations for the API's access hook; `allowed` checks again where no such hook runs. */
const EXECUTE = { config: { access: 'ir:execute' as Permission } };
const READ = { config: { access: 'ir:read' as Permission } };
const ACTION = answers({ 200: ref('IrAction') });
const binary = { schema: { type: 'string', contentMediaType: 'application/octet-stream' } };
/** An artefact's bytes: a triage archive (gzip) or a file; its SHA-256 in Repr-Digest and X-Vigil-Sha256. */
const ARTIFACT = { description: 'the artefact', content: { 'application/gzip': binary, 'application/octet-stream': binary } };

function allowed(req: FastifyRequest, permission: Permission): boolean {
  return hasPermission(req.principal!.role, permission);
}

export function actionView(c: CommandRecord) {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    id: c.id, host_id: c.hostId, action: c.action, params: c.params, status: c.status, requested_by: c.requestedBy, reason: c.reason,
    requested_at: iso(c.requestedAt), expires_at: iso(c.expiresAt), approved_by: c.approvedBy, updated_at: iso(c.updatedAt),
    deliveries: c.deliveries, result: c.result, error: c.error, artifact_id: c.artifactId,
  };
}

const HOST_ROUTES: { path: string; action: ResponseAction }[] = [
  { path: 'isolate', action: 'isolate' },
  { path: 'release', action: 'release' },
  { path: 'kill-process', action: 'kill_process' },
  { path: 'collect', action: 'collect_triage' },
  { path: 'list-processes', action: 'list_processes' },
  { path: 'get-file', action: 'get_file' },
];

/** Actions an analyst may ask without a reason: listing processes changes nothing and takes no file. */
const REASON_OPTIONAL: readonly ResponseAction[] = ['list_processes'];

/**
 * The body of a host action: a JSON object (the action's parameters, checked by the dispatcher, `expires_in_s`
 * and `reason`, which an analyst must give for every action that changes the host or takes data from it: it is
 * kept on the command and in the ledger); no body is an empty one. Arrays, strings and numbers are a 400.
 */
const actionBody = (action: ResponseAction) => ({
  type: 'object',
  ...(REASON_OPTIONAL.includes(action) ? {} : { required: ['reason'] }),
  properties: {
    expires_in_s: { type: 'number' }, // its range is the dispatcher's (a precise 400)
    reason: { type: 'string', minLength: 1, maxLength: MAX_REASON_CHARS },
  },
});
const noBodyIsEmpty = async (req: FastifyRequest) => { if (req.body === undefined) req.body = {}; };

function sendError(reply: FastifyReply, err: unknown) {
  if (err instanceof ResponseError) return problem(reply, err.status, err.status === 404 ? 'Not Found' : err.status === 409 ? 'Conflict' : 'Bad Request', err.message);
  throw err;
}

export function responseRoutes(api: FastifyInstance, o: ApiOptions): void {
  const ir = o.response;
  if (!ir) return;
  const deny = (reply: FastifyReply, permission: Permission) => problem(reply, 403, 'Forbidden', `this action needs the ${permission} permission`);

  for (const r of HOST_ROUTES) {
    api.post<{ Params: { id: string }; Body: Record<string, unknown> }>(`/hosts/:id/${r.path}`, {
      ...EXECUTE, schema: { body: actionBody(r.action), response: answers({ 202: ref('IrAction') }) }, preValidation: noBodyIsEmpty,
    }, async (req, reply) => {
      if (!allowed(req, 'ir:execute')) return deny(reply, 'ir:execute');
      const who = requesterOf(req);
      const host = await o.metadata.getHost(who.tenantId, req.params.id);
      if (!host) return problem(reply, 404, 'Not Found', 'no such host');
      // `reason` stays among the parameters too: isolate and release have always carried it there.
      const { expires_in_s: expiresIn, ...params } = req.body;
      if (expiresIn !== undefined && typeof expiresIn !== 'number') return problem(reply, 400, 'Bad Request', 'expires_in_s must be a number');
      try {
        const c = await ir.request(who, host.id, r.action, params, expiresIn === undefined ? undefined : Math.round(expiresIn * 1000), req.body.reason as string | undefined);
        return reply.code(202).header('location', `/api/v1/ir/actions/${c.id}`).send(actionView(c));
      } catch (err) {
        return sendError(reply, err);
      }
    });
  }

  api.post<{ Params: { id: string } }>('/ir/actions/:id/approve', { ...EXECUTE, schema: { response: ACTION } }, async (req, reply) => {
    if (!allowed(req, 'ir:execute')) return deny(reply, 'ir:execute');
    try {
      return actionView(await ir.approve(requesterOf(req), req.params.id));
    } catch (err) {
      return sendError(reply, err);
    }
  });

  api.get<{ Querystring: { host_id?: string; status?: CommandStatus; limit?: number; before?: string } }>('/ir/actions', {
    schema: { querystring: { type: 'object', additionalProperties: false, properties: {
      host_id: { type: 'string', maxLength: 128 }, status: { type: 'string', enum: [...COMMAND_STATUSES] },
      limit: intSchema(1, 1000), before: isoTimeSchema } }, response: answers({ 200: ref('IrActionList') }) },
    config: READ.config,
  }, async (req, reply) => {
    if (!allowed(req, 'ir:read')) return deny(reply, 'ir:read');
    const q = req.query;
    const before = parseTime(q.before, 'before')?.getTime();
    const actions = await ir.list(req.principal!.tenantId, { hostId: q.host_id, status: q.status, limit: q.limit ?? 100, before });
    return { actions: actions.map(actionView) };
  });

  api.get<{ Params: { id: string } }>('/ir/actions/:id', { ...READ, schema: { response: ACTION } }, async (req, reply) => {
    if (!allowed(req, 'ir:read')) return deny(reply, 'ir:read');
    const c = await ir.get(req.principal!.tenantId, req.params.id);
    return c ? actionView(c) : problem(reply, 404, 'Not Found', 'no such response action');
  });

  api.get<{ Params: { id: string } }>('/ir/artifacts/:id', { ...READ, schema: { response: answers({ 200: ARTIFACT }) } }, async (req, reply) => {
    if (!allowed(req, 'ir:read')) return deny(reply, 'ir:read');
    const found = await ir.download(requesterOf(req), req.params.id);
    if (!found) return problem(reply, 404, 'Not Found', 'no such artefact');
    const a = found.artifact;
    return reply
      .header('content-type', a.kind === 'triage' ? 'application/gzip' : 'application/octet-stream')
      .header('content-length', a.size)
      .header('content-disposition', `attachment; filename="${a.name.replace(/[^A-Za-z0-9._-]/g, '_')}"`)
      .header('repr-digest', `sha-256=:${Buffer.from(a.sha256, 'hex').toString('base64')}:`)
      .header('x-vigil-sha256', a.sha256)
      .send(found.body);
  });
}
