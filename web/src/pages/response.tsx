// Response: every response action with its live status (polled), and the artefacts it collected with their
// SHA-256 hashes and a download link.

import { Anchor, Code, Stack, Text, Title } from '@mantine/core';
import { Link } from 'react-router';
import { useIrActions, type IrAction } from '../api/queries.ts';
import { formatTime } from '../components/format.ts';
import { QueryState } from '../components/query-state.tsx';
import { SortableTable, type Column } from '../components/sortable-table.tsx';

function Artefacts({ action }: { action: IrAction }) {
  if (!action.artifacts?.length) return <Text size="sm" c="dimmed">—</Text>;
  return (
    <Stack gap={2}>
      {action.artifacts.map((a) => (
        <Text key={a.sha256} size="xs">
          {a.url ? <Anchor href={a.url} download>{a.name}</Anchor> : a.name} <Code>sha256 {a.sha256}</Code>
        </Text>
      ))}
    </Stack>
  );
}

const COLUMNS: Column<IrAction>[] = [
  { key: 'created', label: 'Requested', render: (a) => formatTime(a.created_at), sortValue: (a) => a.created_at ?? '' },
  { key: 'host', label: 'Host', render: (a) => <Anchor component={Link} to={`/hosts/${a.host_id}`}>{a.host_id}</Anchor>, sortValue: (a) => a.host_id },
  { key: 'action', label: 'Action', render: (a) => `${a.action}${a.target ? ` ${a.target}` : ''}`, sortValue: (a) => a.action },
  { key: 'status', label: 'Status', render: (a) => a.status, sortValue: (a) => a.status },
  { key: 'by', label: 'By', render: (a) => a.requested_by ?? '—' },
  { key: 'artefacts', label: 'Artefacts', render: (a) => <Artefacts action={a} />, wrap: true },
];

export function ResponsePage() {
  const actions = useIrActions();
  return (
    <Stack>
      <Title order={2}>Response actions</Title>
      <Text size="sm" c="dimmed">Issue isolate, release, kill and collect from a host's Response tab.</Text>
      <QueryState query={actions} what="Response actions" isEmpty={(d) => d.actions.length === 0}>
        {(d) => <SortableTable label="Response actions" rows={d.actions} columns={COLUMNS} rowKey={(a) => a.id} initialSort={{ key: 'created', desc: true }} />}
      </QueryState>
    </Stack>
  );
}
