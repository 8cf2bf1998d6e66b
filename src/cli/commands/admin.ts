// `vigil admin create-superadmin`: first-run platform administration from the shell. Creates the super-admin
// (tenant `_platform`) with a random one-time password printed once, through the same identity store and audit
// ledger a server of that data directory uses (SQLite in --data-dir, or PostgreSQL with --postgres); the
// ledger records `users.create` by `system`. Refused while a server holds the data directory's ledger.

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openApiSecurity } from '../../api/security.ts';
import { AuthError } from '../../identity/errors.ts';
import { PLATFORM_TENANT } from '../../identity/permissions.ts';
import { ledgerPaths } from '../../stores/ledger/key-file.ts';
import { LedgerBusyError } from '../../stores/ledger/writer-lock.ts';

export const summary = 'platform administration (create-superadmin)';

const USAGE = `usage: vigil admin create-superadmin --email EMAIL [--data-dir DIR] [--postgres URL]
  create-superadmin  creates a super-admin in tenant ${PLATFORM_TENANT} and prints its one-time password once
                     (sign in with tenant ${PLATFORM_TENANT}, then change it: POST /api/v1/auth/password)
options: --data-dir DIR   the server's data directory (default ./data; env VIGIL_DATA_DIR); with --postgres, the
                          directory holding the deployment's ledger-key.pem (the API processes' key directory)
         --postgres URL   identity store and ledger in PostgreSQL (scale-out); safe while API processes write
                          the ledger (appends are serialised in the database)`;

/** 24 base64url characters: 144 random bits. */
const oneTimePassword = (): string => randomBytes(18).toString('base64url');

async function createSuperAdmin(dataDir: string, email: string, postgres: string | undefined): Promise<number> {
  if (postgres && !existsSync(ledgerPaths(dataDir).key)) {
    console.error(`vigil admin: no ledger key at ${ledgerPaths(dataDir).key}; with --postgres, --data-dir must hold the deployment's ledger-key.pem`);
    return 1;
  }
  const security = await openApiSecurity({ dataDir, postgres: postgres ? { connectionString: postgres } : undefined });
  try {
    const password = oneTimePassword();
    const user = await security.users.bootstrapSuperAdmin(email, password, { requestId: 'cli:admin create-superadmin' });
    console.log(`super-admin ${user.email} created in tenant ${PLATFORM_TENANT} (user ${user.id})`);
    console.log(`one-time password: ${password}`);
    console.log('it is shown only now: sign in and change it (POST /api/v1/auth/password)');
    return 0;
  } finally {
    await security.close();
  }
}

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: {
      'data-dir': { type: 'string' }, email: { type: 'string' }, postgres: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    } });
  } catch (err) {
    console.error(`vigil admin: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) { console.log(USAGE); return 0; }
  if (positionals.length !== 1 || positionals[0] !== 'create-superadmin' || !values.email) {
    console.error(USAGE);
    return 2;
  }
  const dataDir = resolve(values['data-dir'] ?? process.env.VIGIL_DATA_DIR ?? 'data');
  try {
    return await createSuperAdmin(dataDir, values.email, values.postgres);
  } catch (err) {
    if (err instanceof LedgerBusyError || err instanceof AuthError) {
      console.error(`vigil admin: ${err.message}`);
      return 1;
    }
    throw err;
  }
}
