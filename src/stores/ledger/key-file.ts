// The ledger's signing key on disk: an Ed25519 PKCS#8 PEM file (mode 600, created at first use) in the data
// directory or at a configured path, never in the database, and next to it the public verifier key
// (`name+keyid+base64key`, the C2SP note verifier format) that external verifiers are given.

import { generateKeyPairSync, createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ledgerKey, verifierOf, type LedgerKey } from '../../ledger/ledger.ts';
import { formatVerifierKey, parseVerifierKey, type NoteVerifier } from '../../ledger/note.ts';

export interface LedgerPaths {
  db: string;
  key: string;
  pub: string;
}

/** Where the SQLite ledger and its keys live in a data directory (the key file may be configured apart). */
export function ledgerPaths(dataDir: string, keyFile?: string): LedgerPaths {
  const key = keyFile ?? join(dataDir, 'ledger-key.pem');
  return { db: join(dataDir, 'ledger.db'), key, pub: `${key.replace(/\.pem$/, '')}.pub` };
}

function readPrivateKey(path: string) {
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) throw new Error(`ledger signing key ${path} is readable by others (mode ${mode.toString(8)}); chmod 600 it`);
  return createPrivateKey(readFileSync(path));
}

/** Reads the verifier key file. */
export function readVerifier(pubPath: string): NoteVerifier {
  return parseVerifierKey(readFileSync(pubPath, 'utf8'));
}

/** Loads the signing key, or throws when it does not exist. The origin comes from the verifier key file. */
export function loadLedgerKey(paths: LedgerPaths): LedgerKey {
  if (!existsSync(paths.key)) throw new Error(`no ledger signing key at ${paths.key}`);
  const privateKey = readPrivateKey(paths.key);
  if (!existsSync(paths.pub)) return ledgerKey(privateKey);
  const verifier = readVerifier(paths.pub);
  const key = ledgerKey(privateKey, verifier.name);
  if (!Buffer.from(key.note.publicKey).equals(Buffer.from(verifier.publicKey))) {
    throw new Error(`verifier key ${paths.pub} does not belong to the signing key ${paths.key}`);
  }
  return key;
}

/** Loads the signing key, creating it (mode 600) and its verifier key file at first use. */
export function loadOrCreateLedgerKey(paths: LedgerPaths, origin?: string): LedgerKey {
  if (!existsSync(paths.key)) {
    mkdirSync(dirname(paths.key), { recursive: true });
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(paths.key, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
    writeFileSync(paths.pub, `${formatVerifierKey(verifierOf(ledgerKey(privateKey, origin)))}\n`, { mode: 0o644 });
  }
  return loadLedgerKey(paths);
}
