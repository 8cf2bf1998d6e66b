// Keeps a user session alive: refreshes the access token a minute before it expires.

import { useEffect } from 'react';
import { refreshSession } from '../api/client.ts';
import { setCredential, type Credential } from './credential.ts';

const EARLY_MS = 60_000;

export function useSessionRefresh(cred: Credential | null): void {
  useEffect(() => {
    if (cred?.kind !== 'session') return;
    const t = setTimeout(() => { refreshSession(cred).catch(() => setCredential(null)); }, Math.max(cred.expiresAt - Date.now() - EARLY_MS, 0));
    return () => clearTimeout(t);
  }, [cred]);
}
