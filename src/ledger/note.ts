// C2SP signed notes (c2sp.org/signed-note) with Ed25519, compatible with golang.org/x/mod/sumdb/note:
// key id = first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key); verifier key text
// `name+hex(key id)+base64(0x01 ‖ public key)`; signature line `— name base64(key id ‖ signature)`.
// Owns key-id computation, signing, verifier keys and note verification. Pure (node:crypto only).

import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export class NoteError extends Error {
  override name = 'NoteError';
}

const ED25519 = 0x01;
const SIG_PREFIX = '\u2014 ';
const MAX_SIGNATURES = 100;
// PKCS#8 DER header of an Ed25519 private key; the 32-byte seed follows.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** A note signer: a key name and an Ed25519 key pair. */
export interface NoteKey {
  name: string;
  privateKey: KeyObject;
  publicKey: Uint8Array;
}

/** What verifies a note: the key name and the raw 32-byte Ed25519 public key. */
export interface NoteVerifier {
  name: string;
  publicKey: Uint8Array;
}

export function checkKeyName(name: string): void {
  if (name === '' || /[\s+]/u.test(name)) {
    throw new NoteError(`key name ${JSON.stringify(name)} must be non-empty and contain no spaces or '+'`);
  }
}

/** The 32-byte raw public key of an Ed25519 KeyObject (public or private). */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const jwk = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new NoteError('key is not an Ed25519 key');
  return new Uint8Array(Buffer.from(jwk.x, 'base64url'));
}

/** The Ed25519 private key for a 32-byte seed. */
export function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new NoteError(`Ed25519 seed must be 32 bytes, got ${seed.length}`);
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new NoteError(`Ed25519 public key must be 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

export function noteKey(name: string, privateKey: KeyObject): NoteKey {
  checkKeyName(name);
  return { name, privateKey, publicKey: rawPublicKey(privateKey) };
}

/** Key id: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key). */
export function keyId(name: string, publicKey: Uint8Array): Uint8Array {
  const digest = createHash('sha256').update(name).update(Uint8Array.of(0x0a, ED25519)).update(publicKey).digest();
  return new Uint8Array(digest.subarray(0, 4));
}

/** The verifier key text `name+hex(key id)+base64(0x01 ‖ public key)`. */
export function formatVerifierKey(v: NoteVerifier): string {
  checkKeyName(v.name);
  const id = Buffer.from(keyId(v.name, v.publicKey)).toString('hex');
  return `${v.name}+${id}+${Buffer.concat([Uint8Array.of(ED25519), v.publicKey]).toString('base64')}`;
}

export function parseVerifierKey(text: string): NoteVerifier {
  // The base64 key may itself contain '+': split at the first two only, as sumdb/note does.
  const match = /^([^+]+)\+([^+]*)\+(.*)$/s.exec(text.trim());
  if (!match) throw new NoteError('verifier key must have the form name+keyid+base64key');
  const [, name, idHex, keyB64] = match;
  checkKeyName(name);
  const key = Buffer.from(keyB64, 'base64');
  if (key.length !== 33 || key[0] !== ED25519) throw new NoteError('verifier key is not an Ed25519 key (0x01 ‖ 32 bytes)');
  const publicKey = new Uint8Array(key.subarray(1));
  if (!/^[0-9a-f]{8}$/.test(idHex) || Buffer.from(keyId(name, publicKey)).toString('hex') !== idHex) {
    throw new NoteError(`verifier key id ${idHex} does not match its name and public key`);
  }
  return { name, publicKey };
}

function checkText(text: string): void {
  if (!text.endsWith('\n')) throw new NoteError('note text must end with a newline');
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) throw new NoteError('note text contains a control character');
  if (text.includes('\n\n')) throw new NoteError('note text contains a blank line');
}

/** The signed note: text, a blank line and one signature line by `key`. */
export function signNote(text: string, key: NoteKey): string {
  checkText(text);
  const signature = sign(null, Buffer.from(text, 'utf8'), key.privateKey);
  const blob = Buffer.concat([keyId(key.name, key.publicKey), signature]).toString('base64');
  return `${text}\n${SIG_PREFIX}${key.name} ${blob}\n`;
}

interface SignatureLine {
  name: string;
  id: Buffer;
  signature: Buffer;
}

function parseSignatureLine(line: string): SignatureLine {
  if (!line.startsWith(SIG_PREFIX)) throw new NoteError(`malformed signature line ${JSON.stringify(line)}`);
  const rest = line.slice(SIG_PREFIX.length);
  const space = rest.lastIndexOf(' ');
  const name = rest.slice(0, space);
  const blob = Buffer.from(rest.slice(space + 1), 'base64');
  if (space <= 0 || blob.length < 5 || blob.toString('base64') !== rest.slice(space + 1)) {
    throw new NoteError(`malformed signature line ${JSON.stringify(line)}`);
  }
  return { name, id: blob.subarray(0, 4), signature: blob.subarray(4) };
}

/** Splits a signed note into its text and signature lines, checking the syntax. */
export function parseNote(note: string): { text: string; signatures: SignatureLine[] } {
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new NoteError('malformed note: no blank line before the signatures');
  const text = note.slice(0, split + 1);
  checkText(text);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new NoteError(`note has more than ${MAX_SIGNATURES} signatures`);
  return { text, signatures: lines.map(parseSignatureLine) };
}

/**
 * Verifies `note` against `verifier` and returns its text. Throws a NoteError when the note is malformed,
 * carries no signature by the verifier's key, or that signature does not verify over the text.
 */
export function openNote(note: string, verifier: NoteVerifier): string {
  const { text, signatures } = parseNote(note);
  const id = Buffer.from(keyId(verifier.name, verifier.publicKey));
  const mine = signatures.filter((s) => s.name === verifier.name && s.id.equals(id));
  if (mine.length === 0) {
    throw new NoteError(`note is not signed by key ${verifier.name}+${id.toString('hex')}`);
  }
  const key = publicKeyObject(verifier.publicKey);
  for (const s of mine) {
    if (!verify(null, Buffer.from(text, 'utf8'), key, s.signature)) {
      throw new NoteError(`signature by ${verifier.name}+${id.toString('hex')} does not verify over the note text`);
    }
  }
  return text;
}
