// Live updates: one Server-Sent Events connection to /api/v1/stream while signed in. An `alert` event
// refreshes alert lists and the dashboard; a `host` event refreshes hosts. When the stream is unavailable
// (an older server) it retries slowly; queries also poll, so pages stay current either way.

import { useEffect, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { bearerOf, type Credential } from '../auth/credential.ts';

export type LiveState = 'connecting' | 'live' | 'polling';

const RETRY_MS = 30_000;

export function useLiveStream(cred: Credential | null): LiveState {
  const client = useQueryClient();
  const [state, setState] = useState<LiveState>('connecting');
  const bearer = cred ? bearerOf(cred) : null;
  useEffect(() => {
    if (!bearer) return;
    let source: EventSource | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const connect = () => {
      source = new EventSource(`/api/v1/stream?access_token=${encodeURIComponent(bearer)}`);
      source.onopen = () => setState('live');
      source.onerror = () => { source?.close(); setState('polling'); retry = setTimeout(connect, RETRY_MS); };
      source.addEventListener('alert', () => {
        void client.invalidateQueries({ queryKey: ['alerts'] });
        void client.invalidateQueries({ queryKey: ['stats'] });
      });
      source.addEventListener('host', () => void client.invalidateQueries({ queryKey: ['hosts'] }));
    };
    connect();
    return () => { source?.close(); clearTimeout(retry); };
  }, [bearer, client]);
  return state;
}
