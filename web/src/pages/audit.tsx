// Audit: the tamper-evident ledger's entries (paged), its latest signed checkpoint, and a one-click
// verification of the whole log against it.

import { useState } from 'react';
import { Alert, Button, Card, Code, Group, Pagination, ScrollArea, Stack, Table, Text, Title } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { api } from '../api/client.ts';
import { useCheckpoint, useLedgerEntries } from '../api/queries.ts';
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

function Entries({ size }: { size: number }) {
  const pages = Math.max(1, Math.ceil(size / PAGE));
  const [page, setPage] = useState(pages);
  const entries = useLedgerEntries((page - 1) * PAGE, PAGE);
  const hosts = useHostNames();
  const users = useUserNames();
  return (
    <Stack gap="xs">
      <QueryState query={entries} what="Ledger entries" isEmpty={(d) => d.entries.length === 0}>
        {(d) => (
          <ScrollArea><Table fz="sm" striped aria-label="Ledger entries">
            <Table.Thead><Table.Tr>{['#', 'Time', 'Actor', 'Action', 'Target', 'Outcome', 'Request'].map((h) => <Table.Th key={h}>{h}</Table.Th>)}</Table.Tr></Table.Thead>
            <Table.Tbody>{d.entries.map((e) => (
              <Table.Tr key={e.index}><Table.Td>{e.index}</Table.Td><Table.Td style={{ whiteSpace: 'nowrap' }}>{formatTime(e.timestamp)}</Table.Td><Table.Td title={e.actor} style={{ minWidth: 150 }}>{userLabel(users, e.actor)}</Table.Td><Table.Td>{e.action}</Table.Td>
                <Table.Td title={e.target}>{withHostNames(userLabel(users, e.target), hosts)}{e.details ? <Text size="xs" c="dimmed" ff="monospace">{withHostNames(JSON.stringify(e.details), hosts)}</Text> : null}</Table.Td><Table.Td>{e.outcome}</Table.Td><Table.Td ff="monospace" fz="xs" title={e.request_id}>{e.request_id.slice(0, 8)}</Table.Td></Table.Tr>
            ))}</Table.Tbody>
          </Table></ScrollArea>
        )}
      </QueryState>
      <Pagination total={pages} value={page} onChange={setPage} size="sm" />
    </Stack>
  );
}

export function AuditPage() {
  const checkpoint = useCheckpoint();
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
            <Entries size={c.size} />
          </Stack>
        )}
      </QueryState>
    </Stack>
  );
}
