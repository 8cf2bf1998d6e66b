// The events of one process entity. GET /events filters by host, type, text and time but not by process, so
// this asks for the host's events during the process's lifetime (a few pages at most) and keeps those of the
// entity; `searched` and `complete` say how far that went, so the page can tell the analyst.

import { useQuery } from '@tanstack/react-query';
import { api } from './client.ts';
import { queryString } from './queries.ts';
import type { ProcessSummary, VigilEvent } from './types.ts';

const PAGE = 2000;
const MAX_PAGES = 5;

export interface ProcessEvents { events: VigilEvent[]; searched: number; complete: boolean }

export interface ProcessEventFilter { type?: string; q?: string; from?: string; to?: string }

export function useProcessEvents(hostId: string, p: ProcessSummary | undefined, f: ProcessEventFilter = {}) {
  return useQuery({
    queryKey: ['events', 'process', hostId, p?.entity_id, p?.exit, f],
    enabled: p !== undefined,
    queryFn: async (): Promise<ProcessEvents> => {
      const start = Date.parse(p!.start);
      const end = p!.exit ? Date.parse(p!.exit) : NaN;
      // A second of slack each side: the start and exit events carry the host's clock.
      const windowFrom = Number.isFinite(start) ? new Date(start - 1000).toISOString() : undefined;
      const windowTo = Number.isFinite(end) ? new Date(end + 1000).toISOString() : undefined;
      const from = [windowFrom, f.from].filter(Boolean).sort().pop();
      const to = [windowTo, f.to].filter(Boolean).sort()[0];
      const events: VigilEvent[] = [];
      let searched = 0;
      let cursor: string | null = null;
      for (let page = 0; page < MAX_PAGES; page++) {
        const r: { events: VigilEvent[]; next: string | null } = await api(`/events${queryString({ host: hostId, type: f.type, q: f.q, from, to, limit: PAGE, cursor })}`);
        searched += r.events.length;
        events.push(...r.events.filter((e) => e.process?.entity_id === p!.entity_id));
        cursor = r.next;
        if (!cursor) return { events, searched, complete: true };
      }
      return { events, searched, complete: false };
    },
  });
}
