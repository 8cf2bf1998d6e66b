// DLP data sets of the caller's tenant (docs/dlp.md): upload, list, read, delete. An upload is a CSV with a header
// row and the protected columns with their types; the server normalises and fingerprints the chosen cells with the
// tenant's keyed BLAKE3 and keeps only the fingerprint set: the CSV is neither stored nor logged (nor named in the
// audit entry beyond its data set name and counts). Reading needs policies:read, changing policies:write. A new or
// deleted data set re-sends the tenant's policies that name it (by id or name) to the agents: they load or drop it.

import { CsvError } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import { MAX_DATASET_ROWS, fingerprintCsv } from '../../dlp/dataset.ts';
import { Fingerprinter } from '../../dlp/fingerprint.ts';
import { datasetsNamed } from '../../dlp/policy.ts';
import { COLUMN_TYPES, type ColumnType } from '../../dlp/normalise.ts';
import { DlpDatasetExistsError, type DlpDatasetRecord, type SqlDlpStore } from '../../stores/dlp/sql-dlp-store.ts';
import { HttpError, notFound } from '../http.ts';
import type { ApiOptions } from '../server.ts';

/** What the DLP routes need. */
export interface DlpApi { store: SqlDlpStore }

export const MAX_DATASETS_PER_TENANT = 50;
/** A CSV of a few million short rows fits. */
export const MAX_CSV_BYTES = 256 * 1024 * 1024;

export function dlpDatasetView(d: DlpDatasetRecord) {
  return {
    id: d.id, name: d.name, columns: d.columns, rows: d.rows, fingerprints: d.fingerprints, bytes: d.bytes,
    bytes_per_fingerprint: d.fingerprints > 0 ? Math.round((d.bytes / d.fingerprints) * 100) / 100 : 0,
    created_by: d.createdBy, created_at: new Date(d.createdAt).toISOString(),
  };
}

const columnSchema = {
  type: 'object', additionalProperties: false, required: ['name', 'type'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 200 }, type: { type: 'string', enum: [...COLUMN_TYPES] } },
} as const;
const datasetSchema = {
  type: 'object', additionalProperties: false,
  required: ['id', 'name', 'columns', 'rows', 'fingerprints', 'bytes', 'bytes_per_fingerprint', 'created_by', 'created_at'],
  properties: {
    id: { type: 'string' }, name: { type: 'string' }, columns: { type: 'array', items: columnSchema },
    rows: { type: 'integer', description: 'data rows of the uploaded CSV' },
    fingerprints: { type: 'integer', description: 'distinct keyed fingerprints kept (cells too short for their type are skipped)' },
    bytes: { type: 'integer', description: 'size of the fingerprint set as stored and delivered' },
    bytes_per_fingerprint: { type: 'number' }, created_by: { type: 'string' }, created_at: { type: 'string', format: 'date-time' },
  },
} as const;
const problemSchema = { type: 'object', additionalProperties: true, properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, code: { type: 'string' } } } as const;
const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema, 409: problemSchema, 413: problemSchema } as const;
const idParams = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } } as const;
const createBody = {
  type: 'object', additionalProperties: false, required: ['name', 'columns', 'csv'],
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$' },
    columns: { type: 'array', minItems: 1, maxItems: 32, items: columnSchema, description: 'the protected columns (by header name) and their types' },
    csv: { type: 'string', minLength: 1, description: `the data set: a CSV with a header row, at most ${MAX_DATASET_ROWS} rows; fingerprinted, never stored` },
  },
} as const;

interface CreateBody { name: string; columns: { name: string; type: ColumnType }[]; csv: string }

export function dlpRoutes(api: FastifyInstance, o: ApiOptions): void {
  const dlp = o.dlp;
  if (!dlp) return;
  /** The tenant's policies naming this data set go to the agents again (with the set's new version, or without it). */
  const republish = async (tenantId: string, d: { id: string; name: string }) => {
    for (const p of await o.metadata.listPolicies(tenantId)) {
      const named = datasetsNamed(p.document);
      if (named.includes(d.id) || named.includes(d.name)) o.onPolicyStored?.(p);
    }
  };

  api.get('/dlp/datasets', {
    config: { access: 'policies:read', etag: true },
    schema: { response: { 200: { type: 'object', additionalProperties: false, required: ['datasets'], properties: { datasets: { type: 'array', items: datasetSchema } } }, ...errors } },
  }, async (req) => ({ datasets: (await dlp.store.list(req.principal!.tenantId)).map(dlpDatasetView) }));

  api.get<{ Params: { id: string } }>('/dlp/datasets/:id', {
    config: { access: 'policies:read' }, schema: { params: idParams, response: { 200: datasetSchema, ...errors } },
  }, async (req) => {
    const d = await dlp.store.get(req.principal!.tenantId, req.params.id);
    if (!d) throw notFound('data set');
    return dlpDatasetView(d);
  });

  api.post<{ Body: CreateBody }>('/dlp/datasets', {
    config: { access: 'policies:write' }, bodyLimit: MAX_CSV_BYTES + 64 * 1024,
    schema: { body: createBody, response: { 201: datasetSchema, ...errors } },
  }, async (req, reply) => {
    const p = req.principal!;
    const b = req.body;
    if ((await dlp.store.list(p.tenantId)).length >= MAX_DATASETS_PER_TENANT) throw new HttpError(409, `at most ${MAX_DATASETS_PER_TENANT} data sets per tenant`, 'too_many_datasets');
    const fp = await Fingerprinter.create(await dlp.store.tenantKey(p.tenantId));
    let set;
    try {
      set = fingerprintCsv(fp, b.name, 'v1', b.csv, b.columns);
    } catch (err) {
      // Never a cell value in the answer: the parser's error by code and line; the column check names header names only.
      const why = err instanceof CsvError ? `CSV ${err.code} at line ${err.lines}` : (err as Error).message.slice(0, 300);
      throw new HttpError(400, `the data set was not fingerprinted: ${why}`, 'invalid_dataset');
    }
    try {
      const d = await dlp.store.create({ tenantId: p.tenantId, name: b.name, columns: b.columns, rows: set.meta.rows, fingerprints: set.size, set: set.serialise(), createdBy: p.subject });
      req.auditDetail = { dataset: d.id, name: d.name, rows: d.rows, fingerprints: d.fingerprints };
      await republish(p.tenantId, d);
      return reply.code(201).send(dlpDatasetView(d));
    } catch (err) {
      if (err instanceof DlpDatasetExistsError) throw new HttpError(409, err.message, 'dataset_exists');
      throw err;
    }
  });

  api.delete<{ Params: { id: string } }>('/dlp/datasets/:id', {
    config: { access: 'policies:write' }, schema: { params: idParams, response: { 204: { type: 'null' }, ...errors } },
  }, async (req, reply) => {
    const d = await dlp.store.get(req.principal!.tenantId, req.params.id);
    if (!d || !(await dlp.store.delete(d.tenantId, d.id))) throw notFound('data set');
    req.auditDetail = { dataset: d.id };
    await republish(d.tenantId, d);
    return reply.code(204).send();
  });
}
