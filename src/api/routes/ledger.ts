// The audit ledger over HTTP: the latest signed checkpoint (C2SP note, also issued on demand), entries
// (tenant-scoped; the super-admin sees all), inclusion and consistency proofs, and a full verification.
// Hashes are base64, as in checkpoints.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SUPER_ADMIN } from '../../identity/permissions.ts';
import type { Hash } from '../../ledger/merkle.ts';
import { notFound } from '../http.ts';
import type { ApiOptions } from '../server.ts';

const b64 = (h: Hash) => Buffer.from(h).toString('base64');
const index = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const size = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } as const;
const MAX_EXPORTED = 16;

/** The tenant whose entries the caller may see; undefined (all) for the super-admin. */
const scopeOf = (req: FastifyRequest) => (req.principal!.role === SUPER_ADMIN ? undefined : req.principal!.tenantId);

export function ledgerRoutes(api: FastifyInstance, o: ApiOptions): void {
  const { ledger } = o.security;

  const checkpointJson = async () => {
    const cp = ledger.latestCheckpoint() ?? await ledger.checkpoint();
    return { origin: cp.origin, size: cp.size, root_hash: b64(cp.root), checkpoint: cp.note };
  };

  api.get('/ledger/checkpoint', { config: { access: 'ledger:read' } }, checkpointJson);

  api.post('/ledger/checkpoint', { config: { access: 'ledger:read' } }, async () => {
    await ledger.checkpoint();
    return checkpointJson();
  });

  api.get<{ Querystring: { from?: number; limit?: number } }>('/ledger/entries', {
    config: { access: 'ledger:read' },
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { from: index, limit: { type: 'integer', minimum: 1, maximum: 1000 } } } },
  }, async (req) => {
    const page = await ledger.entries({ from: req.query.from ?? 0, limit: req.query.limit ?? 100, tenantId: scopeOf(req) });
    return { entries: page.entries, next: page.next ?? null };
  });

  api.get<{ Querystring: { index: number; size?: number } }>('/ledger/proof/inclusion', {
    config: { access: 'ledger:read' },
    schema: { querystring: { type: 'object', additionalProperties: false, required: ['index'], properties: { index, size } } },
  }, async (req) => {
    const i = req.query.index;
    const visible = await ledger.entries({ from: i, limit: 1, tenantId: scopeOf(req) });
    if (visible.entries[0]?.index !== i) throw notFound('ledger entry');
    const p = ledger.inclusionProof(i, req.query.size);
    return { index: p.index, size: p.size, leaf_hash: b64(p.leafHash), proof: p.proof.map(b64), root_hash: b64(p.root) };
  });

  api.get<{ Querystring: { from: number; to?: number } }>('/ledger/proof/consistency', {
    config: { access: 'ledger:read' },
    schema: { querystring: { type: 'object', additionalProperties: false, required: ['from'], properties: { from: size, to: size } } },
  }, async (req) => {
    // A size another API process's checkpoint reached may be beyond this process's tree until it catches up.
    if (Math.max(req.query.from, req.query.to ?? 0) > ledger.size) await ledger.refresh();
    const p = ledger.consistencyProof(req.query.from, req.query.to);
    return { from: p.size1, to: p.size2, proof: p.proof.map(b64) };
  });

  api.post<{ Body: { checkpoints?: string[] } | undefined }>('/ledger/verify', {
    config: { access: 'ledger:read' }, bodyLimit: 64 * 1024,
    schema: { body: { type: ['object', 'null'], additionalProperties: false, properties: {
      checkpoints: { type: 'array', maxItems: MAX_EXPORTED, items: { type: 'string', maxLength: 4096 } } } } },
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
