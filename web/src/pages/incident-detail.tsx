// One incident: its alerts, the lineage tree of their processes (from each alert's captured ancestors), the
// merged timeline (alerts, their events, response actions), the response actions, notes; assign it to a user,
// mark it investigating, close it with a disposition, reopen it, isolate a host from here with a reason; edit its
// title and severity (an override of the alerts' highest level), move an alert out of it (into a new incident) or
// into another open incident, link a response action to it.

import { useMemo, useState } from 'react';
import { Anchor, Badge, Box, Button, Card, Group, Menu, Modal, Select, SimpleGrid, Stack, Table, Text, TextInput, Textarea, Title } from '@mantine/core';
import { useQueries, useQuery } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { api } from '../api/client.ts';
import { useApiAction, useHosts, useIrActions } from '../api/queries.ts';
import type { Alert, Incident, IncidentDetail, ProcessSummary, Severity, TimelineEntry } from '../api/types.ts';
import { getCredential } from '../auth/credential.ts';
import { DispositionPicker } from '../components/alert-triage.tsx';
import { AlertStatusBadge, SeverityBadge } from '../components/badges.tsx';
import { formatTime } from '../components/format.ts';
import { basename } from '../components/lineage.tsx';
import { hostLabel, HostLink, useHostNames, userLabel, useUserNames } from '../components/names.tsx';
import { Pivot, processUrl } from '../components/pivots.tsx';
import { ResponseButton } from '../components/process-response.tsx';
import { ErrorState, QueryState } from '../components/query-state.tsx';

interface TreeNode { key: string; hostId: string; p: ProcessSummary; children: TreeNode[]; alerts: Alert[] }

/** What a timeline entry is about: its alert, event or action. */
function timelineKey(t: TimelineEntry): string {
  return t.kind === 'event' ? `event-${t.event_id ?? ''}-${t.alert_id}` : t.kind === 'alert' ? `alert-${t.alert_id}` : `action-${t.action_id}`;
}

/** The processes of the incident's alerts and their ancestors as one forest, keyed by host and entity id. */
function buildForest(alerts: Alert[]): TreeNode[] {
  const nodes = new Map<string, TreeNode>();
  const parentOf = new Map<string, string>();
  const node = (hostId: string, p: ProcessSummary) => {
    const key = `${hostId}/${p.entity_id}`;
    let n = nodes.get(key);
    if (!n) { n = { key, hostId, p, children: [], alerts: [] }; nodes.set(key, n); }
    return n;
  };
  for (const a of alerts) {
    const hostId = a.host_id;
    if (!a.process || !hostId) continue;
    const chain = [...(a.ancestors ?? []), a.process];
    chain.forEach((p, i) => {
      const n = node(hostId, p);
      if (i > 0) parentOf.set(n.key, `${hostId}/${chain[i - 1].entity_id}`);
    });
    node(hostId, a.process).alerts.push(a);
  }
  const roots: TreeNode[] = [];
  for (const n of nodes.values()) {
    const parent = parentOf.get(n.key);
    if (parent && nodes.has(parent)) nodes.get(parent)!.children.push(n); else roots.push(n);
  }
  const byStart = (x: TreeNode, y: TreeNode) => x.p.start.localeCompare(y.p.start);
  for (const n of nodes.values()) n.children.sort(byStart);
  return roots.sort(byStart);
}

function TreeRow({ n, depth, hosts }: { n: TreeNode; depth: number; hosts: Map<string, string> }) {
  return (
    <>
      <Box role="treeitem" aria-level={depth + 1} pl={depth * 20} py={3} data-entity-id={n.p.entity_id}
        style={{ borderLeft: depth ? '1px dashed var(--mantine-color-default-border)' : undefined, marginLeft: depth ? 6 : 0 }}>
        <Group gap={6} wrap="nowrap">
          {depth > 0 && <Text size="xs" c="dimmed" aria-hidden>└</Text>}
          <Anchor component={Link} to={processUrl(n.hostId, n.p.entity_id)} fw={600} size="sm">{basename(n.p.executable)}</Anchor>
          <Text size="xs" c="dimmed">{n.p.pid}</Text>
          <Text size="sm" ff="monospace" truncate="end" style={{ minWidth: 0, flex: 1 }} title={n.p.command_line}>{n.p.command_line}</Text>
          {n.p.user_name && <Text size="xs" c="dimmed"><Pivot kind="user" value={n.p.user_name} hostId={n.hostId} /></Text>}
          {depth === 0 && <Text size="xs" c="dimmed">on {hostLabel(hosts, n.hostId)}</Text>}
          {n.alerts.map((a) => <Anchor key={a.id} component={Link} to={`/alerts/${a.id}`}><Badge size="sm" color="red" variant="light" style={{ textTransform: 'none' }}>{a.rule.title}</Badge></Anchor>)}
        </Group>
      </Box>
      {n.children.map((c) => <TreeRow key={c.key} n={c} depth={depth + 1} hosts={hosts} />)}
    </>
  );
}

function ProcessTree({ ids }: { ids: string[] }) {
  const shown = ids.slice(0, 100);
  const alerts = useQueries({ queries: shown.map((id) => ({ queryKey: ['alerts', 'one', id], queryFn: () => api<Alert>(`/alerts/${encodeURIComponent(id)}`) })) });
  const hosts = useHostNames();
  const loaded = alerts.flatMap((q) => (q.data ? [q.data] : []));
  const loadedKey = loaded.map((a) => a.id).join();
  const forest = useMemo(() => buildForest(loaded), [loadedKey]); // rebuilt when the set of loaded alerts changes
  if (alerts.some((q) => q.isPending)) return <Text size="sm" c="dimmed">Reading the alerts' lineage…</Text>;
  if (!forest.length) return <Text size="sm" c="dimmed">No alert of this incident names a process.</Text>;
  return (
    <Stack gap={0} role="tree" aria-label="Incident processes">
      {forest.map((n) => <TreeRow key={n.key} n={n} depth={0} hosts={hosts} />)}
      {ids.length > shown.length && <Text size="xs" c="dimmed">The tree shows the processes of the first {shown.length} of {ids.length} alerts.</Text>}
    </Stack>
  );
}

function Timeline({ d }: { d: IncidentDetail }) {
  const hosts = useHostNames();
  const users = useUserNames();
  return (
    <Stack gap="xs">
      <Table aria-label="Incident timeline" fz="sm" striped verticalSpacing={4}>
        <Table.Thead><Table.Tr><Table.Th>Time</Table.Th><Table.Th>Kind</Table.Th><Table.Th>What</Table.Th><Table.Th>Host</Table.Th></Table.Tr></Table.Thead>
        <Table.Tbody>{d.timeline.map((t, i) => (
          <Table.Tr key={`${timelineKey(t)}-${i}`}>
            <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatTime(t.at)}</Table.Td>
            <Table.Td><Badge size="sm" variant="light" color={t.kind === 'alert' ? 'red' : t.kind === 'action' ? 'orange' : 'gray'}>{t.kind}</Badge></Table.Td>
            <Table.Td style={{ wordBreak: 'break-all' }}>
              {t.kind === 'alert' && <Group gap={6}>{t.severity && <SeverityBadge level={t.severity} />}<Anchor component={Link} to={`/alerts/${t.alert_id}`} size="sm">{t.title}</Anchor></Group>}
              {t.kind === 'event' && <Text size="sm">{t.type}{' '}
                {t.process?.entity_id && t.host_id
                  ? <Anchor component={Link} to={processUrl(t.host_id, t.process.entity_id)} size="sm">{basename(t.process.executable ?? '')} {t.process.pid}</Anchor>
                  : t.process?.executable}
                {t.process?.command_line && <Text span ff="monospace" size="xs" c="dimmed"> {t.process.command_line}</Text>}</Text>}
              {t.kind === 'action' && <Text size="sm">{t.action} — {t.status}{t.requested_by ? ` (by ${userLabel(users, t.requested_by)})` : ''}</Text>}
            </Table.Td>
            <Table.Td style={{ whiteSpace: 'nowrap' }}>{t.host_id ? <HostLink id={t.host_id} /> : '—'}</Table.Td>
          </Table.Tr>
        ))}</Table.Tbody>
      </Table>
      {d.timeline_truncated && <Text size="xs" c="dimmed">The timeline shows its first 2,000 entries.</Text>}
    </Stack>
  );
}

type Dialog = 'close' | 'reopen' | null;

const LEVELS: Severity[] = ['informational', 'low', 'medium', 'high', 'critical'];

/** The title, editable in place (PATCH {title}); not on a closed incident. */
function TitleEditor({ d }: { d: IncidentDetail }) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(d.title);
  const patch = useApiAction((body: Record<string, unknown>) => ({ path: `/incidents/${d.id}`, method: 'PATCH', body }), ['incidents']);
  if (!editing) {
    return (
      <Group gap={4}>
        <Title order={2}>{d.title}</Title>
        {d.status !== 'closed' && <Button size="compact-xs" variant="subtle" onClick={() => { patch.reset(); setText(d.title); setEditing(true); }}>Edit title</Button>}
      </Group>
    );
  }
  const save = () => patch.mutate({ title: text.trim() }, { onSuccess: () => setEditing(false) });
  return (
    <Stack gap={4}>
      <Group gap="xs">
        <TextInput aria-label="Incident title" w={520} value={text} onChange={(e) => setText(e.currentTarget.value)} data-autofocus
          onKeyDown={(e) => { if (e.key === 'Enter' && text.trim()) save(); if (e.key === 'Escape') setEditing(false); }} />
        <Button size="xs" disabled={!text.trim()} loading={patch.isPending} onClick={save}>Save title</Button>
        <Button size="xs" variant="default" onClick={() => setEditing(false)}>Cancel</Button>
      </Group>
      {patch.isError && <ErrorState error={patch.error} what="Title" />}
    </Stack>
  );
}

/** Moves one alert: out of this incident (into a new one) or into another open incident. */
function MoveAlert({ d, alertId, others }: { d: IncidentDetail; alertId: string; others: Incident[] }) {
  const move = useApiAction((a: { into?: string }) => (a.into
    ? { path: `/incidents/${encodeURIComponent(a.into)}/alerts`, body: { add: [alertId] } }
    : { path: `/incidents/${d.id}/alerts`, body: { remove: [alertId] } }), ['incidents', 'alerts']);
  return (
    <Group gap={4} wrap="nowrap">
      <Menu position="bottom-end" withinPortal shadow="md">
        <Menu.Target><Button size="compact-xs" variant="subtle" loading={move.isPending} aria-label={`Move alert ${alertId}`}>Move…</Button></Menu.Target>
        <Menu.Dropdown>
          <Menu.Item onClick={() => move.mutate({})}>Move out of this incident (into a new one)</Menu.Item>
          {others.length > 0 && <Menu.Label>Into another open incident</Menu.Label>}
          {others.map((o) => (
            <Menu.Item key={o.id} onClick={() => move.mutate({ into: o.id })} leftSection={<SeverityBadge level={o.severity} />}>{o.title}</Menu.Item>
          ))}
        </Menu.Dropdown>
      </Menu>
      {move.isError && <ErrorState error={move.error} what="Move" />}
    </Group>
  );
}

/** The tenant's other open (or investigating) incidents: where an alert can go. */
function useOtherOpenIncidents(id: string) {
  const q = useQuery({ queryKey: ['incidents', 'list', 'open-targets'], queryFn: () => api<{ incidents: Incident[] }>('/incidents?status=open,investigating&limit=50') });
  return (q.data?.incidents ?? []).filter((i) => i.id !== id);
}

/** Links a response action to the incident (POST /incidents/{id}/actions), or unlinks one linked explicitly. */
function LinkAction({ d }: { d: IncidentDetail }) {
  const all = useIrActions();
  const [choice, setChoice] = useState<string | null>(null);
  const names = useHostNames();
  const link = useApiAction((b: { add?: string[]; remove?: string[] }) => ({ path: `/incidents/${d.id}/actions`, body: b }), ['incidents']);
  const linked = new Set(d.actions.filter((a) => a.link === 'explicit').map((a) => a.id));
  const options = (all.data?.actions ?? []).filter((a) => !linked.has(a.id)).slice(0, 200)
    .map((a) => ({ value: a.id, label: `${a.action} on ${hostLabel(names, a.host_id)} · ${a.status} · ${formatTime(a.requested_at)}` }));
  return (
    <Stack gap={4}>
      <Group gap="xs" align="flex-end">
        <Select label="Link a response action" placeholder={options.length ? 'choose an action' : 'no other response action'} w={420} searchable clearable
          data={options} value={choice} onChange={setChoice} />
        <Button size="sm" variant="light" disabled={!choice} loading={link.isPending}
          onClick={() => choice && link.mutate({ add: [choice] }, { onSuccess: () => setChoice(null) })}>Link</Button>
      </Group>
      {link.isError && <ErrorState error={link.error} what="Link" />}
    </Stack>
  );
}

function LinkOne({ d, actionId }: { d: IncidentDetail; actionId: string }) {
  const link = useApiAction(() => ({ path: `/incidents/${d.id}/actions`, body: { add: [actionId] } }), ['incidents']);
  return <Button size="compact-xs" variant="subtle" loading={link.isPending} onClick={() => link.mutate(undefined)}>Link</Button>;
}

function UnlinkAction({ d, actionId }: { d: IncidentDetail; actionId: string }) {
  const unlink = useApiAction(() => ({ path: `/incidents/${d.id}/actions`, body: { remove: [actionId] } }), ['incidents']);
  return <Button size="compact-xs" variant="subtle" color="gray" loading={unlink.isPending} onClick={() => unlink.mutate(undefined)}>Unlink</Button>;
}

function Controls({ d }: { d: IncidentDetail }) {
  const [dialog, setDialog] = useState<Dialog>(null);
  const [disposition, setDisposition] = useState('');
  const [reason, setReason] = useState('');
  const users = useUserNames();
  const cred = getCredential();
  const me = cred?.kind === 'session' ? cred.user : null;
  const invalidate = ['incidents', 'alerts'];
  const patch = useApiAction((body: Record<string, unknown>) => ({ path: `/incidents/${d.id}`, method: 'PATCH', body }), invalidate);
  const close = useApiAction(() => ({ path: `/incidents/${d.id}/close`, body: { disposition, reason: reason.trim() } }), invalidate);
  const reopen = useApiAction(() => ({ path: `/incidents/${d.id}/reopen`, body: reason.trim() ? { reason: reason.trim() } : {} }), invalidate);
  const userOptions = useMemo(() => {
    const opts = [...users.entries()].filter(([k]) => !k.includes(':')).map(([value, label]) => ({ value, label }));
    if (me && !opts.some((o) => o.value === me.id)) opts.unshift({ value: me.id, label: me.email ?? me.id });
    if (d.assignee && !opts.some((o) => o.value === d.assignee)) opts.push({ value: d.assignee, label: d.assignee });
    return opts;
  }, [users, me, d.assignee]);
  const closed = d.status === 'closed';
  return (
    <Stack gap="xs">
      <Group gap="xs" align="flex-end">
        <Select label="Severity" w={190} allowDeselect={false} disabled={closed}
          data={[{ value: 'computed', label: `computed (${d.computed_severity})` }, ...LEVELS.map((l) => ({ value: l, label: d.severity_override === l ? `${l} (override)` : l }))]}
          value={d.severity_override ?? 'computed'} onChange={(v) => patch.mutate({ severity: v && v !== 'computed' ? v : null })} />
        <Select label="Assignee" placeholder={userOptions.length ? 'unassigned' : 'no users listed for your role'} w={260} clearable searchable disabled={closed}
          data={userOptions} value={d.assignee} onChange={(v) => patch.mutate({ assignee: v })} />
        {d.status === 'open' && <Button size="sm" variant="light" loading={patch.isPending} onClick={() => patch.mutate({ status: 'investigating' })}>Start investigating</Button>}
        {!closed && <Button size="sm" color="gray" onClick={() => { close.reset(); setDisposition(''); setReason(''); setDialog('close'); }}>Close incident</Button>}
        {closed && <Button size="sm" variant="light" onClick={() => { reopen.reset(); setReason(''); setDialog('reopen'); }}>Reopen</Button>}
      </Group>
      {patch.isError && <ErrorState error={patch.error} what="Incident" />}
      <Modal opened={dialog !== null} onClose={() => setDialog(null)} title={dialog === 'close' ? 'Close incident' : 'Reopen incident'}>
        <Stack>
          {dialog === 'close' && <DispositionPicker value={disposition} onChange={setDisposition} />}
          <Textarea label={dialog === 'close' ? 'Reason' : 'Reason (optional)'} required={dialog === 'close'} autosize minRows={2} value={reason} onChange={(e) => setReason(e.currentTarget.value)} />
          {(close.isError || reopen.isError) && <ErrorState error={close.error ?? reopen.error} what="Incident" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setDialog(null)}>Cancel</Button>
            {dialog === 'close'
              ? <Button disabled={!disposition || !reason.trim()} loading={close.isPending} onClick={() => close.mutate(undefined, { onSuccess: () => setDialog(null) })}>Close incident</Button>
              : <Button loading={reopen.isPending} onClick={() => reopen.mutate(undefined, { onSuccess: () => setDialog(null) })}>Reopen</Button>}
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}

function Notes({ d }: { d: IncidentDetail }) {
  const [text, setText] = useState('');
  const users = useUserNames();
  const add = useApiAction(() => ({ path: `/incidents/${d.id}/notes`, body: { text: text.trim() } }), ['incidents']);
  return (
    <Stack gap="xs">
      {(d.notes ?? []).length === 0 && <Text size="sm" c="dimmed">No notes yet.</Text>}
      {(d.notes ?? []).map((n, i) => (
        <Box key={`${n.at}-${i}`}><Text size="xs" c="dimmed">{userLabel(users, n.author)} · {formatTime(n.at)}</Text><Text size="sm" style={{ whiteSpace: 'pre-wrap' }}>{n.text}</Text></Box>
      ))}
      <Textarea aria-label="New note" placeholder="What you found, what you did" autosize minRows={2} value={text} onChange={(e) => setText(e.currentTarget.value)} />
      {add.isError && <ErrorState error={add.error} what="Note" />}
      <Group><Button size="xs" disabled={!text.trim()} loading={add.isPending} onClick={() => add.mutate(undefined, { onSuccess: () => setText('') })}>Add note</Button></Group>
    </Stack>
  );
}

export function IncidentDetailPage() {
  const { id = '' } = useParams();
  const q = useQuery({ queryKey: ['incidents', 'one', id], refetchInterval: 10_000, queryFn: () => api<IncidentDetail>(`/incidents/${encodeURIComponent(id)}`) });
  const hosts = useHosts();
  const names = useHostNames();
  const users = useUserNames();
  const others = useOtherOpenIncidents(id);
  return (
    <QueryState query={q} what="Incident">
      {(d) => (
        <Stack>
          <Group gap="xs">
            <TitleEditor key={d.title} d={d} /><SeverityBadge level={d.severity} />
            {d.severity_override && <Text size="xs" c="dimmed" data-testid="severity-override">override (alerts: {d.computed_severity})</Text>}
            <AlertStatusBadge status={d.status} />
            {d.disposition && <Badge color="gray" variant="light" style={{ textTransform: 'none' }}>{d.disposition.replace(/_/g, ' ')}</Badge>}
          </Group>
          <Text size="sm" c="dimmed">
            {d.alert_count} alert{d.alert_count === 1 ? '' : 's'} on {d.host_ids.length ? d.host_ids.map((h, i) => <span key={h}>{i ? ', ' : ''}<HostLink id={h} /></span>) : 'no host'}
            {' '}· first {formatTime(d.first_seen)} · last {formatTime(d.last_seen)}
            {d.closed_at && ` · closed ${formatTime(d.closed_at)} by ${userLabel(users, d.closed_by)}: ${d.close_reason ?? ''}`}
          </Text>
          <Controls d={d} />
          <Card withBorder><Title order={5} mb="xs">Process tree</Title><ProcessTree ids={d.alert_ids ?? d.alerts.map((a) => a.id)} /></Card>
          <Card withBorder>
            <Title order={5} mb="xs">Alerts</Title>
            <Table aria-label="Incident alerts" fz="sm" striped verticalSpacing={4}>
              <Table.Thead><Table.Tr>{['Last seen', 'Severity', 'Rule', 'Host', 'Process', 'Count', 'Status', ''].map((h) => <Table.Th key={h}>{h}</Table.Th>)}</Table.Tr></Table.Thead>
              <Table.Tbody>{d.alerts.map((a) => (
                <Table.Tr key={a.id}>
                  <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatTime(a.last_seen)}</Table.Td>
                  <Table.Td><SeverityBadge level={a.severity} /></Table.Td>
                  <Table.Td><Anchor component={Link} to={`/alerts/${a.id}`} size="sm">{a.rule.title}</Anchor></Table.Td>
                  <Table.Td><HostLink id={a.host_id} /></Table.Td>
                  <Table.Td>{a.process && a.host_id && a.process.entity_id ? <Anchor component={Link} to={processUrl(a.host_id, a.process.entity_id)} size="sm" title={a.process.command_line ?? undefined}>{basename(a.process.executable ?? '')} {a.process.pid}</Anchor> : '—'}</Table.Td>
                  <Table.Td ta="right">{a.occurrences}</Table.Td>
                  <Table.Td><AlertStatusBadge status={a.status} /></Table.Td>
                  <Table.Td>{d.status !== 'closed' && <MoveAlert d={d} alertId={a.id} others={others} />}</Table.Td>
                </Table.Tr>
              ))}</Table.Tbody>
            </Table>
          </Card>
          <Card withBorder><Title order={5} mb="xs">Timeline</Title><Timeline d={d} /></Card>
          <SimpleGrid cols={{ base: 1, xl: 2 }}>
            <Card withBorder>
              <Title order={5} mb="xs">Response</Title>
              <Stack gap="xs">
                {d.host_ids.map((h) => {
                  const host = hosts.data?.hosts.find((x) => x.id === h);
                  return (
                    <Group key={h} gap="xs">
                      <Text size="sm">{hostLabel(names, h)}</Text>
                      <ResponseButton hostId={h} hostname={host?.hostname ?? hostLabel(names, h)} request={{ action: 'isolate' }} label="Isolate host" />
                    </Group>
                  );
                })}
                <LinkAction d={d} />
                {d.actions.length === 0 ? <Text size="sm" c="dimmed">No response action linked, nor on these hosts during the incident.</Text> : (
                  <Table fz="sm" aria-label="Incident response actions">
                    <Table.Tbody>{d.actions.map((a) => (
                      <Table.Tr key={a.id}><Table.Td style={{ whiteSpace: 'nowrap' }}>{formatTime(a.requested_at)}</Table.Td><Table.Td>{a.action}</Table.Td><Table.Td style={{ whiteSpace: 'nowrap' }}>{hostLabel(names, a.host_id)}</Table.Td>
                        <Table.Td>{a.status}</Table.Td><Table.Td><Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>{a.link === 'explicit' ? 'linked to the incident' : 'on its hosts meanwhile'}</Text></Table.Td>
                        <Table.Td>{a.link === 'explicit' ? <UnlinkAction d={d} actionId={a.id} /> : <LinkOne d={d} actionId={a.id} />}</Table.Td></Table.Tr>
                    ))}</Table.Tbody>
                  </Table>
                )}
              </Stack>
            </Card>
            <Card withBorder><Title order={5} mb="xs">Notes</Title><Notes d={d} /></Card>
          </SimpleGrid>
        </Stack>
      )}
    </QueryState>
  );
}
