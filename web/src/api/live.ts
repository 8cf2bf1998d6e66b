// Live updates: one Server-Sent Events connection to /api/v1/stream while signed in. An `alert` event
// refreshes alert lists and the dashboard; a `host` event refreshes hosts. EventSource cannot send an
// Authorization header and a credential must never be in a URL (servers and proxies log URLs), so each
// connection first asks POST /stream/ticket (with the header) for a single-use ticket valid 30 s and opens
// /stream?ticket=…; every reconnection asks for a new one. When the stream is unavailable (an older server) it
// retries slowly; queries also poll, so pages stay current either way.

import { useEffect, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { bearerOf, type Credential } from '../auth/credential.ts';
import { api } from './client.ts';

export type LiveState = 'connecting' | 'live' | 'polling';

const RETRY_MS = 30_000;
/** After a stream that was open ends (e.g. the credential it was opened with expired): reconnect soon. */
const RECONNECT_MS = 2_000;

export function useLiveStream(cred: Credential | null): LiveState {
  const client = useQueryClient();
  const [state, setState] = useState<LiveState>('connecting');
  const bearer = cred ? bearerOf(cred) : null;
  useEffect(() => {
    if (!bearer) return;
    let source: EventSource | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const again = (ms: number) => { if (!stopped) retry = setTimeout(() => void connect(), ms); };
    const connect = async () => {
      let ticket: string;
      try {
        ({ ticket } = await api<{ ticket: string; expires_in: number }>('/stream/ticket', { method: 'POST' }));
      } catch {
        setState('polling');
        return again(RETRY_MS);
      }
      if (stopped) return;
      let opened = false;
      source = new EventSource(`/api/v1/stream?ticket=${encodeURIComponent(ticket)}`);
      source.onopen = () => { opened = true; setState('live'); };
      // The ticket is spent: never let EventSource retry with it; reconnect with a new one.
      source.onerror = () => { source?.close(); setState('polling'); again(opened ? RECONNECT_MS : RETRY_MS); };
      source.addEventListener('alert', () => {
        void client.invalidateQueries({ queryKey: ['alerts'] });
        void client.invalidateQueries({ queryKey: ['stats'] });
      });
      source.addEventListener('host', () => void client.invalidateQueries({ queryKey: ['hosts'] }));
    };
    void connect();
    return () => { stopped = true; source?.close(); clearTimeout(retry); };
  }, [bearer, client]);
  return state;
}
