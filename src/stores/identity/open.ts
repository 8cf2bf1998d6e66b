// Opening identity the way Vigil runs it: the store in <data-dir>/identity.db (SQLite, embedded) or PostgreSQL
// (at scale), and the access-token signing key, an Ed25519 PKCS#8 PEM at <data-dir>/access-token-key.pem
// (mode 600, created at first use; every API process of a deployment must share it), never in the database.

import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type pg from 'pg';
import type { AccessTokenKey } from '../../identity/access-token.ts';
import { openPostgresIdentityStore } from './postgres.ts';
import { openSqliteIdentityStore } from './sqlite.ts';
import type { IdentityStore } from '../../identity/store.ts';

export function openIdentityStore(opts: { dataDir: string; postgres?: pg.PoolConfig }): Promise<IdentityStore> {
  if (opts.postgres) return openPostgresIdentityStore(opts.postgres);
  mkdirSync(opts.dataDir, { recursive: true });
  return openSqliteIdentityStore(join(opts.dataDir, 'identity.db'));
}

/** Loads the EdDSA access-token key from `path` (default <dataDir>/access-token-key.pem), creating it if absent. */
export function loadOrCreateAccessTokenKey(dataDir: string, path = join(dataDir, 'access-token-key.pem')): AccessTokenKey {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(path, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
  }
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) throw new Error(`access-token key ${path} is readable by others (mode ${mode.toString(8)}); chmod 600 it`);
  const privateKey = createPrivateKey(readFileSync(path));
  return { alg: 'EdDSA', privateKey, publicKey: createPublicKey(privateKey) };
}
