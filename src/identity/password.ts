// Password hashing with argon2id (node:crypto.argon2, Node >= 24.7), encoded as a PHC string that carries its
// parameters: `$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<tag>` (unpadded base64). Verification
// reports whether the stored hash uses other parameters than the current ones, so callers rehash at login.
// Randomness is injected. Passwords are never logged or stored.

import { argon2, timingSafeEqual } from 'node:crypto';
import { systemRandom, type Random } from './clock.ts';

export interface Argon2Params {
  /** Memory in KiB. */
  memoryKiB: number;
  passes: number;
  parallelism: number;
  /** Tag (output) length in bytes. */
  tagLength: number;
}

/** Production defaults: RFC 9106 §4 second recommended option (64 MiB, t=3), one lane per hash. */
export const DEFAULT_ARGON2: Argon2Params = { memoryKiB: 65536, passes: 3, parallelism: 1, tagLength: 32 };

const SALT_BYTES = 16;
const VERSION = 19;
const PHC = /^\$argon2id\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

export class PasswordHashError extends Error {
  override name = 'PasswordHashError';
}

interface ParsedHash {
  params: Argon2Params;
  salt: Buffer;
  tag: Buffer;
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64').replace(/=+$/, '');

function derive(password: string, salt: Uint8Array, p: Argon2Params): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    argon2('argon2id', {
      message: Buffer.from(password, 'utf8'), nonce: salt, memory: p.memoryKiB, passes: p.passes,
      parallelism: p.parallelism, tagLength: p.tagLength,
    }, (err, tag) => (err ? reject(err) : resolve(tag)));
  });
}

export function parsePasswordHash(encoded: string): ParsedHash {
  const m = PHC.exec(encoded);
  if (!m || Number(m[1]) !== VERSION) throw new PasswordHashError('not an argon2id (v=19) PHC hash string');
  const tag = Buffer.from(m[6], 'base64');
  return {
    params: { memoryKiB: Number(m[2]), passes: Number(m[3]), parallelism: Number(m[4]), tagLength: tag.length },
    salt: Buffer.from(m[5], 'base64'),
    tag,
  };
}

const sameParams = (a: Argon2Params, b: Argon2Params): boolean =>
  a.memoryKiB === b.memoryKiB && a.passes === b.passes && a.parallelism === b.parallelism && a.tagLength === b.tagLength;

export interface PasswordCheck {
  valid: boolean;
  /** The hash is valid but was made with other parameters than the hasher's: store hash(password) anew. */
  needsRehash: boolean;
}

export class PasswordHasher {
  private readonly params: Argon2Params;
  private readonly random: Random;

  constructor(opts: { params?: Argon2Params; random?: Random } = {}) {
    this.params = opts.params ?? DEFAULT_ARGON2;
    this.random = opts.random ?? systemRandom;
  }

  async hash(password: string): Promise<string> {
    const salt = this.random(SALT_BYTES);
    const tag = await derive(password, salt, this.params);
    const p = this.params;
    return `$argon2id$v=${VERSION}$m=${p.memoryKiB},t=${p.passes},p=${p.parallelism}$${b64(salt)}$${b64(tag)}`;
  }

  /** Checks `password` against a stored hash (with the parameters the hash carries). */
  async verify(password: string, encoded: string): Promise<PasswordCheck> {
    const { params, salt, tag } = parsePasswordHash(encoded);
    const candidate = await derive(password, salt, params);
    const valid = candidate.length === tag.length && timingSafeEqual(candidate, tag);
    return { valid, needsRehash: valid && !sameParams(params, this.params) };
  }

  /** Spends the time of one verification, so a login for an unknown user takes as long as a wrong password. */
  async burn(password: string): Promise<void> {
    await derive(password, new Uint8Array(SALT_BYTES), this.params);
  }
}
