// Exceptions: what the tenant has declared expected — each rule's conditions, the hosts it applies on (by
// name), why, who made it, until when — with edit (conditions, hosts, reason, expiry) and remove.
// GET/PATCH/DELETE /exceptions.

import { useMemo, useState } from 'react';
import { Anchor, Badge, Button, Code, Group, Modal, MultiSelect, SegmentedControl, Select, Stack, Table, Text, TextInput, Textarea, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api } from '../api/client.ts';
import { queryString, useApiAction, useHosts, useRules } from '../api/queries.ts';
import { OPS, opLabel } from '../components/exception-dialog.tsx';
import { formatTime, localInputValue } from '../components/format.ts';
import { hostLabel, useHostNames, userLabel, useUserNames } from '../components/names.tsx';
import { ErrorState, QueryState } from '../components/query-state.tsx';

export interface Condition { field: string; op: string; value: string }
export interface AlertException {
  id: string; rule_id: string; conditions: Condition[]; scope?: { host_ids?: string[] }; reason: string; expires_at: string | null;
  active: boolean; source_alert_id: string | null; created_by: string; created_at: string; updated_by?: string; updated_at?: string;
}

function EditDialog({ exc, onClose }: { exc: AlertException; onClose: () => void }) {
  const hosts = useHosts();
  const [conditions, setConditions] = useState<Condition[]>(exc.conditions);
  const [hostIds, setHostIds] = useState<string[]>(exc.scope?.host_ids ?? []);
  const [reason, setReason] = useState(exc.reason);
  const [expires, setExpires] = useState(exc.expires_at ? localInputValue(new Date(exc.expires_at)) : '');
  const save = useApiAction(() => ({
    path: `/exceptions/${encodeURIComponent(exc.id)}`, method: 'PATCH',
    body: { conditions, scope: { host_ids: hostIds }, reason: reason.trim(), expires_at: expires ? new Date(expires).toISOString() : null },
  }), ['exceptions']);
  const set = (i: number, c: Partial<Condition>) => setConditions((old) => old.map((x, j) => (j === i ? { ...x, ...c } : x)));
  return (
    <Modal opened onClose={onClose} title="Edit exception" size="lg">
      <Stack>
        <Text size="sm" fw={500}>Conditions (all must hold)</Text>
        {conditions.length === 0 && <Text size="sm" c="dimmed">None: every alert of the rule on the chosen hosts is excepted.</Text>}
        {conditions.map((c, i) => (
          <Group key={i} gap="xs" wrap="nowrap" align="flex-end">
            <Code>{c.field}</Code>
            <Select aria-label={`Compare ${c.field}`} data={OPS} value={c.op} onChange={(v) => set(i, { op: v ?? 'equals' })} w={140} allowDeselect={false} />
            <TextInput aria-label={`Value of ${c.field}`} value={c.value} onChange={(e) => set(i, { value: e.currentTarget.value })} style={{ flex: 1 }} />
            <Button size="xs" variant="subtle" color="red" onClick={() => setConditions((old) => old.filter((_, j) => j !== i))}>Drop</Button>
          </Group>
        ))}
        <MultiSelect label="Hosts" description="Empty: every host of the tenant" searchable clearable
          data={(hosts.data?.hosts ?? []).map((h) => ({ value: h.id, label: h.hostname }))} value={hostIds} onChange={setHostIds} />
        <Textarea label="Reason" required autosize minRows={2} value={reason} onChange={(e) => setReason(e.currentTarget.value)} />
        <TextInput type="datetime-local" label="Expires (empty: never)" value={expires} onChange={(e) => setExpires(e.currentTarget.value)} w={240} />
        {save.isError && <ErrorState error={save.error} what="Exception" />}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>Cancel</Button>
          <Button disabled={!reason.trim() || conditions.some((c) => !c.value)} loading={save.isPending} onClick={() => save.mutate(undefined, { onSuccess: onClose })}>Save</Button>
        </Group>
      </Stack>
    </Modal>
  );
}

export function ExceptionsPage() {
  const [active, setActive] = useState('all');
  const list = useQuery({
    queryKey: ['exceptions', active],
    queryFn: () => api<{ exceptions: AlertException[]; next: string | null; total: number }>(`/exceptions${queryString({ active: active === 'all' ? undefined : active, limit: 1000 })}`),
  });
  const rules = useRules();
  const titles = useMemo(() => new Map((rules.data?.rules ?? []).map((r) => [r.id, r.title])), [rules.data]);
  const hosts = useHostNames();
  const users = useUserNames();
  const [editing, setEditing] = useState<AlertException | null>(null);
  const remove = useApiAction((id: string) => ({ path: `/exceptions/${encodeURIComponent(id)}`, method: 'DELETE' }), ['exceptions']);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Exceptions</Title>
        <SegmentedControl aria-label="Show" value={active} onChange={setActive}
          data={[{ value: 'all', label: 'All' }, { value: 'true', label: 'Active' }, { value: 'false', label: 'Expired' }]} />
      </Group>
      <Text size="sm" c="dimmed">A new alert that an active exception matches is stored as <i>excepted</i>: not in the open list, not sent to alert sinks or the live feed. Create one from an alert ("Create exception").</Text>
      {remove.isError && <ErrorState error={remove.error} what="Exception" />}
      <QueryState query={list} what="Exceptions" isEmpty={(d) => d.exceptions.length === 0} empty="No exceptions: every alert is raised.">
        {(d) => (
          <Stack gap="xs">
            <Text size="sm">{d.total.toLocaleString()} exception{d.total === 1 ? '' : 's'}</Text>
            <Table aria-label="Exceptions" striped verticalSpacing="xs" fz="sm">
              <Table.Thead><Table.Tr>{['Rule', 'When', 'Hosts', 'Reason', 'By', 'Expires', ''].map((h) => <Table.Th key={h}>{h}</Table.Th>)}</Table.Tr></Table.Thead>
              <Table.Tbody>{d.exceptions.map((x) => (
                <Table.Tr key={x.id}>
                  <Table.Td><Anchor component={Link} to={`/alerts?rule=${encodeURIComponent(x.rule_id)}&status=excepted`} size="sm">{titles.get(x.rule_id) ?? x.rule_id}</Anchor>
                    {!x.active && <Badge ml={4} size="xs" color="gray">expired</Badge>}</Table.Td>
                  <Table.Td style={{ overflowWrap: 'anywhere', minWidth: 260 }}>{x.conditions.length
                    ? x.conditions.map((c, i) => <div key={i}><Code>{c.field}</Code> {opLabel(c.op)} <Code>{c.value}</Code></div>)
                    : <Text size="sm" c="dimmed">every alert of the rule</Text>}</Table.Td>
                  <Table.Td style={{ whiteSpace: 'nowrap' }}>{x.scope?.host_ids?.length ? x.scope.host_ids.map((h) => hostLabel(hosts, h)).join(', ') : 'every host'}</Table.Td>
                  <Table.Td>{x.reason}{x.source_alert_id && <Anchor component={Link} to={`/alerts/${x.source_alert_id}`} size="xs" display="block">from an alert</Anchor>}</Table.Td>
                  <Table.Td><Text size="sm">{userLabel(users, x.created_by)}</Text><Text size="xs" c="dimmed">{formatTime(x.created_at)}</Text></Table.Td>
                  <Table.Td style={{ whiteSpace: 'nowrap' }}>{x.expires_at ? formatTime(x.expires_at) : 'never'}</Table.Td>
                  <Table.Td style={{ whiteSpace: 'nowrap' }}>
                    <Button size="compact-xs" variant="light" onClick={() => setEditing(x)}>Edit</Button>{' '}
                    <Button size="compact-xs" variant="subtle" color="red" loading={remove.isPending && remove.variables === x.id}
                      onClick={() => { if (confirm(`Remove this exception of ${titles.get(x.rule_id) ?? x.rule_id}? Matching alerts will be raised again.`)) remove.mutate(x.id); }}>Remove</Button>
                  </Table.Td>
                </Table.Tr>
              ))}</Table.Tbody>
            </Table>
          </Stack>
        )}
      </QueryState>
      {editing && <EditDialog exc={editing} onClose={() => setEditing(null)} />}
    </Stack>
  );
}
