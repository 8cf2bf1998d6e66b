// Issuing response actions on a host (isolate, release, collect a file), each behind a confirmation that says
// exactly what will happen; killing a process is picked from the host's running processes (the live process
// tree), with its pid and entity id filled in, so nobody types an entity id.

import { useMemo, useState } from 'react';
import { Alert, Anchor, Button, Card, Group, Modal, ScrollArea, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { Link } from 'react-router';
import { useApiAction, useProcessTree } from '../api/queries.ts';
import type { Host, ProcessNode } from '../api/types.ts';
import { formatTime } from './format.ts';
import { Pivot, processUrl } from './pivots.tsx';
import { ResponseButton } from './process-response.tsx';
import { ErrorState, QueryState } from './query-state.tsx';

interface InputSpec { name: string; label: string; numeric?: boolean; description?: string }
interface ActionSpec { path: string; label: string; explain: string; inputs: InputSpec[] }

const ACTIONS: ActionSpec[] = [
  { path: 'isolate', label: 'Isolate', explain: 'cuts the host off the network except for its connection to Vigil.', inputs: [{ name: 'reason', label: 'Reason (audited)' }] },
  { path: 'release', label: 'Release', explain: 'ends the isolation and restores the network.', inputs: [{ name: 'reason', label: 'Reason (audited)' }] },
  { path: 'get-file', label: 'Collect file', explain: 'uploads this file from the host as an artefact, with its SHA-256.', inputs: [{ name: 'path', label: 'Path on the host' }, { name: 'reason', label: 'Reason (audited)' }] },
];

/** The request body: every filled input, numbers as numbers. */
function bodyOf(a: ActionSpec, values: Record<string, string>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const i of a.inputs) if (values[i.name]) body[i.name] = i.numeric ? Number(values[i.name]) : values[i.name];
  return body;
}

const SHOWN = 50;

/** The running processes of a tree, most recently started first. */
function running(roots: ProcessNode[]): ProcessNode[] {
  const out: ProcessNode[] = [];
  const stack = [...roots];
  while (stack.length) { const n = stack.pop()!; if (!n.exit_ts) out.push(n); stack.push(...n.children); }
  return out.sort((a, b) => b.start_ts.localeCompare(a.start_ts));
}

/** Kill a process: search the host's running processes (live tree) and kill one, or open its page first. */
function KillProcess({ host }: { host: Host }) {
  const tree = useProcessTree(host.id, null);
  const [search, setSearch] = useState('');
  const all = useMemo(() => running(tree.data?.roots ?? []), [tree.data]);
  const needle = search.trim().toLowerCase();
  const matching = needle ? all.filter((p) => `${p.pid} ${p.exe} ${p.cmdline} ${p.user_name ?? ''}`.toLowerCase().includes(needle)) : all;
  return (
    <Card withBorder>
      <Title order={5}>Kill a process</Title>
      <Text size="sm" c="dimmed" mb="xs">
        Pick it from the host's running processes (the live process tree): its pid and entity id are sent together, so a
        reused pid is never killed. Or open its process page to see what it did first.
      </Text>
      <Group mb="xs">
        <TextInput placeholder="Search pid, executable, command line, user" aria-label="Search processes to kill" w={380} value={search} onChange={(e) => setSearch(e.currentTarget.value)} />
        <Button variant="subtle" onClick={() => void tree.refetch()} loading={tree.isFetching}>Refresh</Button>
        {tree.data && <Text size="sm" c="dimmed" data-testid="kill-summary">{matching.length.toLocaleString()} of {all.length.toLocaleString()} running processes{matching.length > SHOWN ? `; the ${SHOWN} most recently started shown, search to narrow` : ''}</Text>}
      </Group>
      <QueryState query={tree} what="Processes" isEmpty={() => all.length === 0} empty="No running process recorded for this host.">
        {() => (
          <ScrollArea.Autosize mah={420}>
            <Table fz="sm" aria-label="Running processes" striped>
              <Table.Thead><Table.Tr><Table.Th>PID</Table.Th><Table.Th>Process</Table.Th><Table.Th>User</Table.Th><Table.Th>Started</Table.Th><Table.Th /></Table.Tr></Table.Thead>
              <Table.Tbody>{matching.slice(0, SHOWN).map((p) => (
                <Table.Tr key={p.entity_id} data-entity-id={p.entity_id}>
                  <Table.Td>{p.pid}</Table.Td>
                  <Table.Td style={{ wordBreak: 'break-all' }}>
                    <Anchor component={Link} to={processUrl(host.id, p.entity_id)} size="sm" ff="monospace">{p.cmdline || p.exe}</Anchor>
                    {p.cmdline && !p.cmdline.startsWith(p.exe) && <Text size="xs" c="dimmed" ff="monospace">{p.exe}</Text>}
                  </Table.Td>
                  <Table.Td>{p.user_name ? <Pivot kind="user" value={p.user_name} hostId={host.id} /> : p.uid}</Table.Td>
                  <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatTime(p.start_ts)}</Table.Td>
                  <Table.Td><ResponseButton hostId={host.id} hostname={host.hostname} label="Kill"
                    request={{ action: 'kill-process', pid: p.pid, entity_id: p.entity_id, executable: p.exe }} /></Table.Td>
                </Table.Tr>
              ))}</Table.Tbody>
            </Table>
          </ScrollArea.Autosize>
        )}
      </QueryState>
    </Card>
  );
}

export function ResponseActions({ host }: { host: Host }) {
  const [pending, setPending] = useState<ActionSpec | null>(null);
  const [values, setValues] = useState<Record<string, string>>({});
  const issue = useApiAction((a: ActionSpec) => ({
    path: `/hosts/${encodeURIComponent(host.id)}/${a.path}`,
    body: bodyOf(a, values),
  }), ['ir-actions']);
  const close = () => { setPending(null); setValues({}); };
  // Every input is required, the reason too: the server keeps it on the action and in the ledger.
  const missing = (a: ActionSpec) => a.inputs.filter((i) => !values[i.name]?.trim());
  return (
    <Stack>
      <Group>{ACTIONS.map((a) => <Button key={a.path} variant="light" color={a.path === 'release' ? 'green' : 'red'} onClick={() => { issue.reset(); setPending(a); }}>{a.label}</Button>)}</Group>
      {issue.isSuccess && <Alert color="green">Action requested; follow its status on the Response page.</Alert>}
      {issue.isError && <ErrorState error={issue.error} what="Response action" />}
      <Modal opened={pending !== null} onClose={close} title={pending ? `${pending.label} on ${host.hostname}?` : ''}>
        {pending && (
          <Stack>
            <Text size="sm">This {pending.explain}</Text>
            {pending.inputs.map((i, n) => (
              <TextInput key={i.name} label={i.label} description={i.description} value={values[i.name] ?? ''} data-autofocus={n === 0 || undefined}
                required onChange={(e) => { const v = e.currentTarget.value; setValues((old) => ({ ...old, [i.name]: v })); }} />
            ))}
            <Group justify="flex-end">
              <Button variant="default" onClick={close}>Cancel</Button>
              <Button color="red" disabled={missing(pending).length > 0} loading={issue.isPending}
                onClick={() => issue.mutate(pending, { onSettled: close })}>{pending.label}</Button>
            </Group>
          </Stack>
        )}
      </Modal>
      <KillProcess host={host} />
    </Stack>
  );
}
