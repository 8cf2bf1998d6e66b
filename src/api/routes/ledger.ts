// The audit ledger over HTTP: the latest signed checkpoint (C2SP note, also issued on demand), entries
// (tenant-scoped; the super-admin sees all), inclusion and consistency proofs, and a full verification.
// Hashes are base64, as in checkpoints.
// Entries are filterable by tenant (`?tenant=`): `_anonymous` selects the entries recorded without a tenant (calls
// made before or without authentication: every login call, refused credentials), which the super-admin and the
// platform's own tenant may read. Each page says which index range it covers and how many entries of that range are
// not in its view (other tenants', anonymous ones), so the gaps between a tenant's indexes are accounted for.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SUPER_ADMIN } from '../../identity/permissions.ts';
import type { Hash } from '../../ledger/merkle.ts';
import { notFound, problem } from '../http.ts';
import type { ApiOptions } from '../server.ts';
import { answers, ref } from '../schemas/index.ts';

/** The `tenant` filter that selects the entries recorded without a tenant (tenant_id ''). */
export const ANONYMOUS_SCOPE = '_anonymous';
const ANONYMOUS_REASON = 'recorded without a tenant: state-changing calls that carried no valid credential, i.e. every login and '
  + 'token refresh call (the tenant\'s own auth.login entry has the same request_id) and calls refused with 401';
const HIDDEN_REASON = 'entries of this index range outside this view: other tenants\' entries and entries recorded without a tenant '
  + '(tenant _anonymous); POST /ledger/verify checks the whole log';

const b64 = (h: Hash) => Buffer.from(h).toString('base64');
const index = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const size = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } as const;
const MAX_EXPORTED = 16;
const CHECKPOINT = answers({ 200: ref('LedgerCheckpoint') });

/** The tenant whose entries the caller may see; undefined (all) for the super-admin. */
const scopeOf = (req: FastifyRequest) => (req.principal!.role === SUPER_ADMIN ? undefined : req.principal!.tenantId);

export function ledgerRoutes(api: FastifyInstance, o: ApiOptions): void {
  const { ledger } = o.security;

  const checkpointJson = async () => {
    const cp = ledger.latestCheckpoint() ?? await ledger.checkpoint();
    return { origin: cp.origin, size: cp.size, root_hash: b64(cp.root), checkpoint: cp.note };
  };

  api.get('/ledger/checkpoint', { config: { access: 'ledger:read' }, schema: { response: CHECKPOINT } }, checkpointJson);

  api.post('/ledger/checkpoint', { config: { access: 'ledger:read' }, schema: { response: CHECKPOINT } }, async () => {
    await ledger.checkpoint();
    return checkpointJson();
  });

  /**
   * The tenant column a listing selects ('' for anonymous entries; undefined: all), or a 403 sent: a tenant reads its
   * own entries; anonymous ones the super-admin and the platform's tenant; any tenant's the super-admin.
   */
  const home = o.defaultTenant ?? 'default';
  const tenantFilter = (req: FastifyRequest, reply: FastifyReply, asked: string | undefined): { tenantId: string | undefined } | undefined => {
    const p = req.principal!;
    if (asked === undefined) return { tenantId: scopeOf(req) };
    if (asked === ANONYMOUS_SCOPE) {
      if (p.role === SUPER_ADMIN || p.tenantId === home) return { tenantId: '' };
      problem(reply, 403, 'Forbidden', `entries without a tenant are the platform's: the super-admin and tenant '${home}' read them`, { code: 'forbidden' });
      return undefined;
    }
    if (p.role === SUPER_ADMIN || asked === p.tenantId) return { tenantId: asked };
    problem(reply, 403, 'Forbidden', 'a tenant reads its own ledger entries only', { code: 'forbidden' });
    return undefined;
  };

  api.get<{ Querystring: { from?: number; limit?: number; tenant?: string } }>('/ledger/entries', {
    config: { access: 'ledger:read' },
    schema: { querystring: { type: 'object', additionalProperties: false, properties: {
      from: index, limit: { type: 'integer', minimum: 1, maximum: 1000 }, tenant: { type: 'string', minLength: 1, maxLength: 64 } } },
      response: answers({ 200: ref('LedgerPage') }) },
  }, async (req, reply) => {
    const filter = tenantFilter(req, reply, req.query.tenant);
    if (!filter) return reply;
    const from = req.query.from ?? 0;
    const page = await ledger.entries({ from, limit: req.query.limit ?? 100, tenantId: filter.tenantId });
    const last = page.entries.at(-1)?.index;
    const to = page.next ?? Math.max(from, ledger.size, last === undefined ? 0 : last + 1); // the page read every index in [from, to)
    const hidden = Math.max(0, to - from - page.entries.length);
    return {
      entries: page.entries, next: page.next ?? null,
      scope: filter.tenantId === undefined ? 'all' : filter.tenantId === '' ? ANONYMOUS_SCOPE : filter.tenantId,
      ...(filter.tenantId === '' ? { scope_reason: ANONYMOUS_REASON } : {}),
      range: { from, to }, hidden, ...(hidden > 0 ? { hidden_reason: HIDDEN_REASON } : {}),
    };
  });

  api.get<{ Querystring: { index: number; size?: number } }>('/ledger/proof/inclusion', {
    config: { access: 'ledger:read' },
    schema: { querystring: { type: 'object', additionalProperties: false, required: ['index'], properties: { index, size } }, response: answers({ 200: ref('InclusionProof') }) },
  }, async (req) => {
    const i = req.query.index;
    const visible = await ledger.entries({ from: i, limit: 1, tenantId: scopeOf(req) });
    if (visible.entries[0]?.index !== i) throw notFound('ledger entry');
    const p = ledger.inclusionProof(i, req.query.size);
    return { index: p.index, size: p.size, leaf_hash: b64(p.leafHash), proof: p.proof.map(b64), root_hash: b64(p.root) };
  });

  api.get<{ Querystring: { from: number; to?: number } }>('/ledger/proof/consistency', {
    config: { access: 'ledger:read' },
    schema: { querystring: { type: 'object', additionalProperties: false, required: ['from'], properties: { from: size, to: size } }, response: answers({ 200: ref('ConsistencyProof') }) },
  }, async (req) => {
    // A size another API process's checkpoint reached may be beyond this process's tree until it catches up.
    if (Math.max(req.query.from, req.query.to ?? 0) > ledger.size) await ledger.refresh();
    const p = ledger.consistencyProof(req.query.from, req.query.to);
    return { from: p.size1, to: p.size2, proof: p.proof.map(b64) };
  });

  api.post<{ Body: { checkpoints?: string[] } | undefined }>('/ledger/verify', {
    config: { access: 'ledger:read' }, bodyLimit: 64 * 1024,
    schema: { body: { type: ['object', 'null'], additionalProperties: false, properties: {
      checkpoints: { type: 'array', maxItems: MAX_EXPORTED, items: { type: 'string', maxLength: 4096 } } } }, response: answers({ 200: ref('LedgerVerification') }) },
  }, async (req) => {
    const report = await o.security.verifyLedger(req.body?.checkpoints ?? []);
    return {
      ok: report.ok, size: report.size,
      ...(report.firstBad !== undefined ? { first_bad_index: report.firstBad } : {}),
      ...(report.ok ? {} : { detail: report.problems.slice(0, 20).map((p) => p.message).join('; ') }),
      warnings: report.warnings,
    };
  });
}
