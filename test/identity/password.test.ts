// Password hashing: argon2id PHC strings carry their parameters; verification; rehash on parameter change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argon2Sync } from 'node:crypto';
import { DEFAULT_ARGON2, parsePasswordHash, PasswordHasher } from '../../src/identity/password.ts';

const LOW = { memoryKiB: 256, passes: 1, parallelism: 1, tagLength: 32 };

test('production defaults are memory-hard (>= 64 MiB, t >= 3)', () => {
  assert.ok(DEFAULT_ARGON2.memoryKiB >= 65536 && DEFAULT_ARGON2.passes >= 3);
});

test('hash is an argon2id PHC string that an independent argon2 call reproduces', async () => {
  const hasher = new PasswordHasher({ params: LOW, random: (n) => new Uint8Array(n).fill(1) });
  const encoded = await hasher.hash('correct horse battery');
  assert.match(encoded, /^\$argon2id\$v=19\$m=256,t=1,p=1\$AQEBAQEBAQEBAQEBAQEBAQ\$[A-Za-z0-9+/]{43}$/);
  const { tag, salt } = parsePasswordHash(encoded);
  const expected = argon2Sync('argon2id', { message: 'correct horse battery', nonce: salt, memory: 256, passes: 1, parallelism: 1, tagLength: 32 });
  assert.deepEqual(tag, expected);
});

test('verify accepts the password, refuses others, and salts differ', async () => {
  const hasher = new PasswordHasher({ params: LOW });
  const a = await hasher.hash('correct horse battery');
  const b = await hasher.hash('correct horse battery');
  assert.notEqual(a, b);
  assert.deepEqual(await hasher.verify('correct horse battery', a), { valid: true, needsRehash: false });
  assert.deepEqual(await hasher.verify('correct horse batterY', a), { valid: false, needsRehash: false });
  await assert.rejects(hasher.verify('x', '$2b$10$bcrypt'), /argon2id/);
});

test('a hash made with other parameters verifies and asks to be rehashed', async () => {
  const old = await new PasswordHasher({ params: LOW }).hash('correct horse battery');
  const stronger = new PasswordHasher({ params: { ...LOW, memoryKiB: 512 } });
  assert.deepEqual(await stronger.verify('correct horse battery', old), { valid: true, needsRehash: true });
  assert.match(await stronger.hash('correct horse battery'), /m=512,/);
});
