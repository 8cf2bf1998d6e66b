// C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint) bodies: `origin\nsize\nbase64(root)\n`, signed as a C2SP
// signed note whose key name is the origin. Owns formatting, strict parsing, signing and opening. Pure.

import { checkKeyName, NoteError, openNote, signNote, type NoteKey, type NoteVerifier } from './note.ts';
import { HASH_SIZE, type Hash } from './merkle.ts';

export interface Checkpoint {
  origin: string;
  size: number;
  root: Hash;
}

/** A checkpoint together with the signed note that carries it. */
export interface SignedCheckpoint extends Checkpoint {
  note: string;
}

export function formatCheckpoint(cp: Checkpoint): string {
  checkKeyName(cp.origin);
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) throw new NoteError(`checkpoint size ${cp.size} is not a non-negative integer`);
  if (cp.root.length !== HASH_SIZE) throw new NoteError(`checkpoint root must be ${HASH_SIZE} bytes`);
  return `${cp.origin}\n${cp.size}\n${Buffer.from(cp.root).toString('base64')}\n`;
}

/** Strict parse of a checkpoint body; extension lines after the third are allowed and ignored. */
export function parseCheckpoint(text: string): Checkpoint {
  const lines = text.split('\n');
  if (lines.length < 4 || lines.at(-1) !== '') throw new NoteError('checkpoint must have at least three newline-terminated lines');
  const [origin, sizeText, rootText] = lines;
  if (origin === '') throw new NoteError('checkpoint origin is empty');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) {
    throw new NoteError(`checkpoint tree size ${JSON.stringify(sizeText)} is not a decimal integer`);
  }
  const root = Buffer.from(rootText, 'base64');
  if (root.length !== HASH_SIZE || root.toString('base64') !== rootText) {
    throw new NoteError(`checkpoint root hash ${JSON.stringify(rootText)} is not the base64 of ${HASH_SIZE} bytes`);
  }
  return { origin, size: Number(sizeText), root: new Uint8Array(root) };
}

/** Signs the checkpoint with `key`, whose name must be the checkpoint's origin. */
export function signCheckpoint(cp: Checkpoint, key: NoteKey): SignedCheckpoint {
  if (key.name !== cp.origin) throw new NoteError(`key name ${key.name} differs from checkpoint origin ${cp.origin}`);
  return { ...cp, note: signNote(formatCheckpoint(cp), key) };
}

/** Verifies a signed checkpoint note and returns the checkpoint it carries; throws NoteError otherwise. */
export function openCheckpoint(note: string, verifier: NoteVerifier): SignedCheckpoint {
  const cp = parseCheckpoint(openNote(note, verifier));
  if (cp.origin !== verifier.name) throw new NoteError(`checkpoint origin ${cp.origin} differs from key name ${verifier.name}`);
  return { ...cp, note };
}
