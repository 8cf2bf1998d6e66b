// TanStack Query hooks for each API resource the console reads, and one mutation helper that posts and
// refreshes what the change affects. Query keys start with the resource name so the live stream can
// invalidate by resource.

import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from './client.ts';
import type {
  Alert, AlertPage, ApiKey, EventPage, HostDetail, HostList, HuntResult, IrActionList, LedgerCheckpoint, LedgerPage, Overview, ProcessInfo, ProcessTree, RuleList, User,
} from './types.ts';

/** Builds a query string from the defined, non-empty values. */
export function queryString(params: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

const LIVE_MS = 10_000;

export const useHosts = () => useQuery({ queryKey: ['hosts'], queryFn: () => api<HostList>('/hosts'), refetchInterval: LIVE_MS });
export const useHost = (id: string) => useQuery({ queryKey: ['hosts', id], queryFn: () => api<HostDetail>(`/hosts/${encodeURIComponent(id)}`), refetchInterval: LIVE_MS });

export const useProcessTree = (hostId: string, at: string | null) => useQuery({
  queryKey: ['process-tree', hostId, at],
  queryFn: () => api<ProcessTree>(`/hosts/${encodeURIComponent(hostId)}/process-tree${queryString({ at })}`),
});

export const useProcess = (hostId: string, entityId: string) => useQuery({
  queryKey: ['process', hostId, entityId],
  queryFn: () => api<ProcessInfo>(`/hosts/${encodeURIComponent(hostId)}/processes/${encodeURIComponent(entityId)}`),
});

export interface EventFilter { host?: string; type?: string; q?: string; from?: string; to?: string; limit?: number; process_entity_id?: string }
export const useEvents = (f: EventFilter, enabled = true) => useQuery({
  queryKey: ['events', f], enabled,
  queryFn: () => api<EventPage>(`/events${queryString({ ...f })}`),
});

export interface AlertFilter { severity?: string; status?: string; host?: string; rule?: string; from?: string; to?: string; limit?: number; cursor?: string; [more: string]: string | number | undefined }
export const useAlerts = (f: AlertFilter) => useQuery({
  queryKey: ['alerts', f], refetchInterval: LIVE_MS,
  queryFn: () => api<AlertPage>(`/alerts${queryString({ ...f })}`),
});
export const useAlert = (id: string) => useQuery({ queryKey: ['alerts', 'one', id], queryFn: () => api<Alert>(`/alerts/${encodeURIComponent(id)}`) });

export const useRules = () => useQuery({ queryKey: ['rules'], queryFn: () => api<RuleList>('/rules') });

export const useOverview = (range: '1h' | '24h') => useQuery({
  queryKey: ['stats', range], refetchInterval: LIVE_MS, retry: false,
  queryFn: () => api<Overview>(`/stats/overview?range=${range}`),
});

export const useCheckpoint = () => useQuery({ queryKey: ['ledger', 'checkpoint'], queryFn: () => api<LedgerCheckpoint>('/ledger/checkpoint') });
export const useLedgerEntries = (from: number, limit: number, tenant?: string) => useQuery({
  queryKey: ['ledger', 'entries', from, limit, tenant ?? ''],
  queryFn: () => api<LedgerPage>(`/ledger/entries${queryString({ from, limit, tenant })}`),
});

/** A cursor-paged management list (`{ <field>: T[], next }`): the first page, then the next ones on request. */
function usePagedList<T>(path: string, field: string) {
  return useInfiniteQuery({
    queryKey: [path.slice(1)], initialPageParam: null as string | null,
    queryFn: async ({ pageParam }) => {
      const r = await api<Record<string, unknown>>(`${path}${queryString({ cursor: pageParam })}`);
      return { items: r[field] as T[], next: r.next as string | null };
    },
    getNextPageParam: (page) => page.next,
  });
}

export const useUsers = () => usePagedList<User>('/users', 'users');
export const useApiKeys = () => usePagedList<ApiKey>('/api-keys', 'api_keys');


export type { IrAction } from './types.ts';
export const useIrActions = () => useQuery({ queryKey: ['ir-actions'], refetchInterval: 5_000, queryFn: () => api<IrActionList>('/ir/actions') });

export const runHunt = (sql: string, limit: number) => api<HuntResult>('/hunt', { method: 'POST', body: { sql, limit } });

/** A POST (or other method) whose success refreshes the queries under `invalidates`. */
export function useApiAction<Args>(request: (args: Args) => { path: string; method?: string; body?: unknown }, invalidates: string[]) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (args: Args) => { const r = request(args); const method = r.method ?? 'POST';
      return api<unknown>(r.path, { method, body: r.body ?? (method === 'DELETE' ? undefined : {}) }); },
    onSuccess: () => Promise.all(invalidates.map((k) => client.invalidateQueries({ queryKey: [k] }))),
  });
}
