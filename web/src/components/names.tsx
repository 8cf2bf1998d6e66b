// Names instead of raw ids: a host id shown as its hostname (from GET /hosts, cached and shared by every
// page), a user id as the user's e-mail when the caller may list users (GET /users; otherwise the id stays).

import { useMemo } from 'react';
import { Anchor, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api } from '../api/client.ts';
import { useHosts } from '../api/queries.ts';
import type { User } from '../api/types.ts';

/** Host id → hostname, for every host of the tenant. */
export function useHostNames(): Map<string, string> {
  const hosts = useHosts();
  return useMemo(() => new Map((hosts.data?.hosts ?? []).map((h) => [h.id, h.hostname])), [hosts.data]);
}

/** A host's name, or a shortened id while the host list loads (or for a host no longer enrolled); '—' for none. */
export function hostLabel(names: Map<string, string>, id: string | null | undefined): string {
  if (!id) return '—';
  return names.get(id) ?? (id.length > 14 ? `${id.slice(0, 12)}…` : id);
}

/** A link to a host's page; an alert or event without a host (an imported record) shows '—'. */
export function HostLink({ id, size }: { id: string | null | undefined; size?: string }) {
  const names = useHostNames();
  if (!id) return <Text span size={size} c="dimmed">—</Text>;
  return <Anchor component={Link} to={`/hosts/${encodeURIComponent(id)}`} size={size} title={id} data-host-id={id}>{hostLabel(names, id)}</Anchor>;
}

/**
 * Principal → name: a user id (bare or as the ledger's `user:<id>`) → e-mail, `apikey:<id>` → the key's name.
 * Listing users needs users:read and keys apikeys:manage; without them the ids are shown.
 */
export function useUserNames(): Map<string, string> {
  const users = useQuery({
    queryKey: ['users', 'names'], staleTime: 60_000, retry: false,
    queryFn: () => api<{ users: User[] }>('/users?limit=1000'),
  });
  const keys = useQuery({
    queryKey: ['api-keys', 'names'], staleTime: 60_000, retry: false,
    queryFn: () => api<{ api_keys: { id: string; name: string }[] }>('/api-keys?limit=1000'),
  });
  return useMemo(() => new Map([
    ...(users.data?.users ?? []).flatMap((u) => [[u.id, u.email], [`user:${u.id}`, u.email]] as [string, string][]),
    ...(keys.data?.api_keys ?? []).map((k) => [`apikey:${k.id}`, `API key "${k.name}"`] as [string, string]),
  ]), [users.data, keys.data]);
}

export function userLabel(names: Map<string, string>, id: string | null | undefined): string {
  if (!id) return '—';
  return names.get(id) ?? id;
}

export function UserName({ id }: { id: string | null | undefined }) {
  const names = useUserNames();
  return <Text span inherit title={id ?? undefined}>{userLabel(names, id)}</Text>;
}
