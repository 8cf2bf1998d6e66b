// Sink secrets at rest (HMAC keys, SMTP passwords, PagerDuty routing keys): sealed with AES-256-GCM under a key
// kept in a file of mode 0600 (embedded: <data-dir>/alert-sink.key; scale-out: <pki-dir>/alert-sink.key, which
// every API process shares like the other keys next to the PKI). The database holds `v1:<iv>:<tag>:<ciphertext>`
// (base64url), never the secret; a database copy without the key file reveals nothing.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';

export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
}

const KEY_BYTES = 32;

/** A box on `key` (32 bytes). */
export function secretBox(key: Buffer): SecretBox {
  if (key.length !== KEY_BYTES) throw new Error('the alert-sink key must be 32 bytes');
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      const data = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
      return ['v1', iv.toString('base64url'), c.getAuthTag().toString('base64url'), data.toString('base64url')].join(':');
    },
    open(sealed) {
      const [v, iv, tag, data] = sealed.split(':');
      if (v !== 'v1' || !iv || !tag || data === undefined) throw new Error('not a sealed alert-sink secret');
      const d = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      d.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([d.update(Buffer.from(data, 'base64url')), d.final()]).toString('utf8');
    },
  };
}

/**
 * The box of the key file at `path`, created (mode 0600, atomically, so processes starting together agree) when
 * absent; a key file others may read is tightened to 0600.
 */
export function secretBoxAt(path: string): SecretBox {
  if (!existsSync(path)) {
    // Written whole under a name of its own, then linked into place: a process starting at the same moment
    // either finds no file or the complete one, never a half-written key.
    const draft = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(draft, randomBytes(KEY_BYTES).toString('base64'), { mode: 0o600, flag: 'wx' });
    try {
      linkSync(draft, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      unlinkSync(draft);
    }
  }
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  return secretBox(Buffer.from(readFileSync(path, 'utf8').trim(), 'base64'));
}
