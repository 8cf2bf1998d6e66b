// `vigil ledger verify|checkpoint|entries`: operator access to the tamper-evident audit ledger in
// <data-dir>/ledger.db or in PostgreSQL (--postgres URL or VIGIL_LEDGER_POSTGRES), with the signing key
// <data-dir>/ledger-key.pem (or --key FILE) and the verifier key next to it (<key>.pub).

import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { entryOfTenant } from '../../ledger/entry.ts';
import type { VerifyReport } from '../../ledger/verify.ts';
import { ledgerPaths } from '../../stores/ledger/key-file.ts';
import { openLedger } from '../../stores/ledger/open.ts';
import { openExistingStore, verifyStoredLedger, type Location } from '../../stores/ledger/verify-stored.ts';

export const summary = 'verify the audit ledger, issue a signed checkpoint, list entries';

const USAGE = `usage: vigil ledger <verify|checkpoint|entries> [options]
  verify      re-hash the whole stored log, check it against every signed checkpoint and against
              exported ones (--checkpoint FILE, repeatable); prints the first bad position; exit 1 on failure
  checkpoint  issue the current signed checkpoint (C2SP tlog-checkpoint note) and print it (--out FILE: also write it)
  entries     print entries as JSON lines (--from N, --limit N, --tenant ID)
options: --data-dir DIR (default ./data), --key FILE (signing key, default <data-dir>/ledger-key.pem),
         --postgres URL (ledger in PostgreSQL instead of <data-dir>/ledger.db; default $VIGIL_LEDGER_POSTGRES)`;

const OPTIONS = {
  'data-dir': { type: 'string', default: './data' },
  key: { type: 'string' },
  checkpoint: { type: 'string', multiple: true },
  out: { type: 'string' },
  from: { type: 'string', default: '0' },
  limit: { type: 'string', default: '100' },
  tenant: { type: 'string' },
  postgres: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const MAX_PROBLEMS_SHOWN = 20;
function printReport(report: VerifyReport): number {
  const latest = report.latest
    ? `latest signed checkpoint: size ${report.latest.size}, root ${Buffer.from(report.latest.root).toString('base64')}`
    : 'no valid signed checkpoint';
  for (const w of report.warnings) console.log(`warning: ${w}`);
  if (report.ok) {
    console.log(`ledger OK: ${report.size} entries re-hashed; ${latest}`);
    return 0;
  }
  const where = report.firstBad === undefined ? '' : `: first bad position ${report.firstBad}`;
  console.log(`ledger verification FAILED${where} (${report.size} entries stored; ${latest})`);
  for (const p of report.problems.slice(0, MAX_PROBLEMS_SHOWN)) console.log(`  ${p.message}`);
  const more = report.problems.length + report.omitted - MAX_PROBLEMS_SHOWN;
  if (more > 0) console.log(`  … and ${more} more problems`);
  return 1;
}

async function verify(at: Location, exported: string[]): Promise<number> {
  return printReport(await verifyStoredLedger(at, exported.map((f) => readFileSync(f, 'utf8'))));
}

async function checkpoint(at: Location, out: string | undefined): Promise<number> {
  const postgres = at.postgres ? { connectionString: at.postgres } : undefined;
  const ledger = await openLedger({ dataDir: at.dataDir, keyFile: at.keyFile, postgres });
  try {
    const cp = await ledger.checkpoint();
    process.stdout.write(cp.note);
    if (out) writeFileSync(out, cp.note);
    return 0;
  } finally {
    await ledger.close();
  }
}

function nonNegative(name: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw new Error(`--${name} must be a non-negative integer`);
  return n;
}

async function entries(at: Location, from: number, limit: number, tenantId: string | undefined): Promise<number> {
  const store = await openExistingStore(at);
  try {
    const rows = await store.rows({ from, limit: limit + 1, tenantId });
    for (const r of rows.slice(0, limit)) {
      if (tenantId === undefined || entryOfTenant(r.entry, tenantId)) console.log(r.entry);
      else console.error(`entry ${r.index}: its tenant_id column differs from the entry; not shown (run 'vigil ledger verify')`);
    }
    if (rows.length > limit) console.error(`more entries: --from ${rows[limit].index}`);
    return 0;
  } finally {
    await store.close();
  }
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true });
  const [sub, ...extra] = positionals;
  if (values.help || !sub || extra.length > 0) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const dataDir = values['data-dir'];
  const at: Location = {
    dataDir, keyFile: values.key, paths: ledgerPaths(dataDir, values.key),
    postgres: values.postgres ?? process.env.VIGIL_LEDGER_POSTGRES,
  };
  switch (sub) {
    case 'verify':
      return verify(at, values.checkpoint ?? []);
    case 'checkpoint':
      return checkpoint(at, values.out);
    case 'entries':
      return entries(at, nonNegative('from', values.from), nonNegative('limit', values.limit), values.tenant);
    default:
      console.error(`vigil ledger: unknown sub-command '${sub}'\n${USAGE}`);
      return 2;
  }
}
