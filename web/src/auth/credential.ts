// The signed-in credential: an API key (service accounts) or a user session (access + refresh token).
// Kept in sessionStorage so it lives as long as the tab; observable for React through useCredential.

import { useSyncExternalStore } from 'react';
import type { SessionUser } from '../api/types.ts';

export type Credential =
  | { kind: 'api-key'; key: string }
  | { kind: 'session'; accessToken: string; refreshToken: string; expiresAt: number; user: SessionUser };

const STORAGE_KEY = 'vigil.credential';
const listeners = new Set<() => void>();
let current: Credential | null = readStored();

function readStored(): Credential | null {
  try { return JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as Credential | null; } catch { return null; }
}

export function getCredential(): Credential | null { return current; }

export function setCredential(c: Credential | null): void {
  current = c;
  if (c) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(c)); else sessionStorage.removeItem(STORAGE_KEY);
  for (const l of listeners) l();
}

/** The bearer value for the Authorization header (never put in a URL: the live stream uses a ticket). */
export function bearerOf(c: Credential): string { return c.kind === 'api-key' ? c.key : c.accessToken; }

export function useCredential(): Credential | null {
  return useSyncExternalStore((l) => { listeners.add(l); return () => listeners.delete(l); }, getCredential);
}
