// Audit: the tamper-evident ledger's entries (paged by index), its latest signed checkpoint, and a one-click
// verification of the whole log against it. Indexes are global, so a tenant's view has gaps (other tenants'
// entries, entries recorded without a tenant): each page says which index range it shows and how many entries
// of it are outside the view, and why. Those allowed (the platform's tenant, the super-admin) can list the
// entries recorded without a tenant (?tenant=_anonymous: login calls, refused credentials).

import { useEffect, useState } from 'react';
import { Alert, Button, Card, Code, Group, Pagination, ScrollArea, SegmentedControl, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useSearchParams } from 'react-router';
import { useMutation } from '@tanstack/react-query';
import { api } from '../api/client.ts';
import { useCheckpoint, useLedgerEntries } from '../api/queries.ts';
import type { LedgerPage } from '../api/types.ts';
import { formatTime } from '../components/format.ts';
import { useHostNames, userLabel, useUserNames } from '../components/names.tsx';
import { ErrorState, QueryState } from '../components/query-state.tsx';

/** A ledger target or detail with host ids named: `host:agt-…` or a bare host id becomes `web-1 (agt-…)`. */
function withHostNames(text: string, hosts: Map<string, string>): string {
  let out = text;
  for (const [id, name] of hosts) if (out.includes(id)) out = out.split(id).join(`${name} (${id.slice(0, 12)}…)`);
  return out;
}

const PAGE = 50;

interface Verification { ok: boolean; size: number; first_bad_index?: number; detail?: string; warnings?: string[] }

function Verify() {
  const verify = useMutation({ mutationFn: () => api<Verification>('/ledger/verify', { method: 'POST', body: {} }) });
  const v = verify.data;
  return (
    <Stack gap="xs">
      <Group><Button onClick={() => verify.mutate()} loading={verify.isPending}>Verify the ledger</Button></Group>
      {v && (v.ok
        ? <Alert color="green" title="Ledger verified" data-testid="verify-result">All {v.size.toLocaleString()} entries match the signed checkpoint.</Alert>
        : <Alert color="red" title="Ledger verification FAILED" data-testid="verify-result">First bad entry: {v.first_bad_index ?? '?'}. {v.detail}</Alert>)}
      {v?.warnings?.map((w) => <Alert key={w} color="yellow">{w}</Alert>)}
      {verify.isError && <ErrorState error={verify.error} what="Verification" />}
    </Stack>
  );
}

const ANONYMOUS = '_anonymous';

/**
 * The entries of the index window [from, from + PAGE) and how many of its indexes are outside the view. The server
 * reads up to PAGE visible entries from `from`, possibly past the window; those are the next window's, so they are
 * cut here, and the window's hidden count is what the server looked at in it minus what is shown.
 */
function windowOf(d: LedgerPage, from: number) {
  const end = from + PAGE;
  const entries = d.entries.filter((e) => e.index < end);
  if (!d.range) return { entries, range: null, hidden: 0 };
  const to = Math.min(d.range.to, end);
  return { entries, range: { from, to }, hidden: Math.max(0, to - from - entries.length) };
}

function Entries({ size, tenant }: { size: number; tenant?: string }) {
  // The checkpoint may lag the log: the pages reach as far as the server has said it read, and one more while it has more.
  const [seen, setSeen] = useState(size);
  const [page, setPage] = useState(Math.max(1, Math.ceil(size / PAGE)));
  const from = (page - 1) * PAGE;
  const entries = useLedgerEntries(from, PAGE, tenant);
  const reached = entries.data ? Math.max(entries.data.range?.to ?? 0, entries.data.next !== null ? entries.data.next + 1 : 0) : 0;
  useEffect(() => { if (reached > seen) setSeen(reached); }, [reached, seen]);
  const pages = Math.max(1, Math.ceil(Math.max(size, seen) / PAGE));
  const hosts = useHostNames();
  const users = useUserNames();
  return (
    <Stack gap="xs">
      <QueryState query={entries} what="Ledger entries">
        {(d) => {
          const w = windowOf(d, from);
          return (
            <Stack gap="xs">
              {d.scope_reason && <Text size="sm" c="dimmed" data-testid="ledger-scope-reason">Entries {d.scope_reason}.</Text>}
              {w.range && (
                <Text size="sm" data-testid="ledger-range">
                  Indexes {w.range.from.toLocaleString()}–{Math.max(w.range.from, w.range.to - 1).toLocaleString()}: {w.entries.length} shown
                  {w.hidden > 0 && <>; <Text span fw={600} inherit>{w.hidden} outside this view</Text>{d.hidden_reason ? `: ${d.hidden_reason}` : ''}</>}
                  {w.hidden === 0 && ', none hidden'}.
                </Text>
              )}
              {w.entries.length === 0 ? <Text c="dimmed" ta="center" py="md" data-state="empty">No entries of this view in this index range.</Text> : (
                <ScrollArea><Table fz="sm" striped aria-label="Ledger entries">
                  <Table.Thead><Table.Tr>{['#', 'Time', 'Actor', 'Tenant', 'Action', 'Target', 'Outcome', 'Request'].map((h) => <Table.Th key={h}>{h}</Table.Th>)}</Table.Tr></Table.Thead>
                  <Table.Tbody>{w.entries.map((e) => (
                    <Table.Tr key={e.index}><Table.Td>{e.index}</Table.Td><Table.Td style={{ whiteSpace: 'nowrap' }}>{formatTime(e.timestamp)}</Table.Td><Table.Td title={e.actor} style={{ minWidth: 150 }}>{userLabel(users, e.actor)}</Table.Td>
                      <Table.Td c={e.tenant_id ? undefined : 'dimmed'}>{e.tenant_id || 'none'}</Table.Td><Table.Td>{e.action}</Table.Td>
                      <Table.Td title={e.target}>{withHostNames(userLabel(users, e.target), hosts)}{e.details ? <Text size="xs" c="dimmed" ff="monospace">{withHostNames(JSON.stringify(e.details), hosts)}</Text> : null}</Table.Td><Table.Td>{e.outcome}</Table.Td><Table.Td ff="monospace" fz="xs" title={e.request_id}>{e.request_id.slice(0, 8)}</Table.Td></Table.Tr>
                  ))}</Table.Tbody>
                </Table></ScrollArea>
              )}
            </Stack>
          );
        }}
      </QueryState>
      <Pagination total={pages} value={page} onChange={setPage} size="sm" />
    </Stack>
  );
}

/** Whether this caller may list the entries without a tenant (the platform's tenant and the super-admin may). */
function useAnonymousAllowed(): boolean {
  const probe = useQuery({ queryKey: ['ledger', 'anonymous-allowed'], retry: false, staleTime: Infinity,
    queryFn: () => api<LedgerPage>(`/ledger/entries?tenant=${ANONYMOUS}&limit=1`) });
  return probe.isSuccess;
}

export function AuditPage() {
  const checkpoint = useCheckpoint();
  const anonymousAllowed = useAnonymousAllowed();
  const [params, setParams] = useSearchParams();
  const anonymous = anonymousAllowed && params.get('tenant') === ANONYMOUS;
  return (
    <Stack>
      <Title order={2}>Audit ledger</Title>
      <QueryState query={checkpoint} what="Ledger">
        {(c) => (
          <Stack>
            <Card withBorder>
              <Title order={5}>Latest signed checkpoint</Title>
              <Text size="sm">{c.size.toLocaleString()} entries · root <Code>{c.root_hash}</Code></Text>
              <Code block mt="xs">{c.checkpoint}</Code>
            </Card>
            <Verify />
            {anonymousAllowed && (
              <SegmentedControl w="fit-content" aria-label="Ledger entries shown" value={anonymous ? ANONYMOUS : 'tenant'}
                onChange={(v) => setParams(v === ANONYMOUS ? { tenant: ANONYMOUS } : {})}
                data={[{ value: 'tenant', label: 'Entries of my view' }, { value: ANONYMOUS, label: 'Entries without a tenant (logins, refused credentials)' }]} />
            )}
            <Entries key={anonymous ? ANONYMOUS : 'tenant'} size={c.size} tenant={anonymous ? ANONYMOUS : undefined} />
          </Stack>
        )}
      </QueryState>
    </Stack>
  );
}
