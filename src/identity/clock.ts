// Time and randomness, injected into every identity library so tests control them. Pure interfaces plus the
// system implementations.

import { randomBytes } from 'node:crypto';

/** Milliseconds since the epoch. */
export type Clock = () => number;
/** `size` cryptographically random bytes. */
export type Random = (size: number) => Uint8Array;

export const systemClock: Clock = () => Date.now();
export const systemRandom: Random = (size) => new Uint8Array(randomBytes(size));

/** A random identifier: 16 random bytes as base64url (22 characters). */
export function randomId(random: Random): string {
  return Buffer.from(random(16)).toString('base64url');
}
