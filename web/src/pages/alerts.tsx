// Alerts: filters (severity, status, host by name with completion, rule, process, user, file, hash, disposition, time; kept in
// the URL), the exact number matching, cursor paging, grouping by rule, host or process, and bulk triage
// (acknowledge, assign, close with a disposition) of a selection or of everything matching.

import { useEffect, useMemo, useState } from 'react';
import { Alert as Callout, Anchor, Autocomplete, Badge, Button, Checkbox, Group, Modal, SegmentedControl, Select, Stack, Table, Text, TextInput, Textarea, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { api } from '../api/client.ts';
import { queryString, useApiAction, useHosts, useRules } from '../api/queries.ts';
import type { Alert, AlertStatus } from '../api/types.ts';
import { AlertTriage, DispositionPicker, useAssignees } from '../components/alert-triage.tsx';
import { AlertStatusBadge, SeverityBadge } from '../components/badges.tsx';
import { formatTime, localInputValue } from '../components/format.ts';
import { basename } from '../components/lineage.tsx';
import { hostLabel, HostLink, useHostNames, userLabel, useUserNames } from '../components/names.tsx';
import { processUrl } from '../components/pivots.tsx';
import { ErrorState, QueryState } from '../components/query-state.tsx';

const FILTERS = ['severity', 'status', 'host', 'rule', 'process_entity_id', 'user', 'file', 'hash', 'disposition', 'from', 'to'] as const;
type Filter = Partial<Record<(typeof FILTERS)[number], string>>;

interface AlertPage { alerts: Alert[]; next: string | null; total?: number }
interface AlertGroup {
  key: string; label: string | null; host_id?: string; count: number; occurrences: number; max_severity: string;
  first_seen: string; last_seen: string; statuses: Record<string, number>;
}
interface GroupPage { groups: AlertGroup[]; next: string | null; total: number; total_groups: number }

/** Filters set by pivots (no input of their own): shown as a chip that can be cleared. */
const PIVOT_FILTERS: [keyof Filter, string, string][] = [
  ['process_entity_id', 'Alerts about process', 'all processes'],
  ['user', 'Alerts about user', 'all users'],
  ['file', 'Alerts whose events touch a path containing', 'all files'],
  ['hash', 'Alerts about processes with SHA-256', 'all hashes'],
];

const GROUP_FILTER: Record<string, keyof Filter> = { rule: 'rule', host: 'host', process: 'process_entity_id' };

function usePaging(reset: string) {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  useEffect(() => setCursors([null]), [reset]);
  return {
    cursor: cursors[cursors.length - 1], page: cursors.length,
    next: (c: string) => setCursors((s) => [...s, c]), prev: () => setCursors((s) => (s.length > 1 ? s.slice(0, -1) : s)),
  };
}

function Pager({ page, next, onNext, onPrev, limit, setLimit }:
  { page: number; next: string | null; onNext: (c: string) => void; onPrev: () => void; limit: number; setLimit: (n: number) => void }) {
  return (
    <Group gap="xs">
      <Select aria-label="Per page" w={110} size="xs" value={String(limit)} onChange={(v) => setLimit(Number(v ?? 50))}
        data={['25', '50', '100', '200'].map((v) => ({ value: v, label: `${v} per page` }))} allowDeselect={false} />
      <Button size="xs" variant="default" disabled={page === 1} onClick={onPrev}>Previous page</Button>
      <Text size="sm">page {page}</Text>
      <Button size="xs" variant="default" disabled={!next} onClick={() => next && onNext(next)}>Next page</Button>
    </Group>
  );
}

type BulkAction = 'acknowledge' | 'assign' | 'close';

/** Bulk triage of the selected alerts, or of every alert matching the filters. */
function BulkBar({ selected, filter, total, onDone }: { selected: string[]; filter: Filter; total: number; onDone: () => void }) {
  const [all, setAll] = useState(false);
  const [dialog, setDialog] = useState<BulkAction | null>(null);
  const [assignee, setAssignee] = useState('');
  const [disposition, setDisposition] = useState('');
  const [reason, setReason] = useState('');
  const assignees = useAssignees();
  const bulk = useApiAction((action: BulkAction) => ({
    path: '/alerts/bulk',
    body: {
      ...(all ? { filter } : { ids: selected }), action,
      ...(action === 'assign' ? { assignee: assignee.trim() } : {}), ...(action === 'close' ? { disposition, reason: reason.trim() } : {}),
    },
  }), ['alerts', 'stats', 'incidents']);
  const result = bulk.data as { matched: number; changed: number; remaining: number } | undefined;
  const count = all ? total : selected.length;
  if (!selected.length && !all && !result) return null;
  const run = (a: BulkAction) => bulk.mutate(a, { onSuccess: () => { setDialog(null); setAll(false); onDone(); } });
  return (
    <Callout color="indigo" p="xs" data-testid="bulk-bar">
      <Group gap="xs">
        <Text size="sm" fw={600}>{count.toLocaleString()} alert{count === 1 ? '' : 's'} {all ? 'matching the filters' : 'selected'}</Text>
        {!all && total > selected.length && selected.length > 0 && <Button size="compact-xs" variant="subtle" onClick={() => setAll(true)}>Select all {total.toLocaleString()} matching</Button>}
        {all && <Button size="compact-xs" variant="subtle" onClick={() => setAll(false)}>Only the selected</Button>}
        {(selected.length > 0 || all) && <>
          <Button size="xs" loading={bulk.isPending && dialog === null} onClick={() => run('acknowledge')}>Acknowledge</Button>
          <Button size="xs" variant="light" onClick={() => { bulk.reset(); setDialog('assign'); }}>Assign</Button>
          <Button size="xs" variant="light" color="gray" onClick={() => { bulk.reset(); setReason(''); setDisposition(''); setDialog('close'); }}>Close</Button>
        </>}
        {result && <Text size="sm" c="dimmed" data-testid="bulk-result">Last action: {result.changed} changed of {result.matched} matching{result.remaining ? `, ${result.remaining} remain (run again)` : ''}.</Text>}
      </Group>
      {bulk.isError && dialog === null && <ErrorState error={bulk.error} what="Bulk triage" />}
      <Modal opened={dialog !== null} onClose={() => setDialog(null)} title={`${dialog === 'close' ? 'Close' : 'Assign'} ${count.toLocaleString()} alert${count === 1 ? '' : 's'}`}>
        <Stack>
          {dialog === 'assign' && <Autocomplete label="Assignee" data={assignees} value={assignee} onChange={setAssignee} required />}
          {dialog === 'close' && <>
            <DispositionPicker value={disposition} onChange={setDisposition} />
            <Textarea label="Reason" required autosize minRows={2} value={reason} onChange={(e) => setReason(e.currentTarget.value)} />
          </>}
          {bulk.isError && <ErrorState error={bulk.error} what="Bulk triage" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setDialog(null)}>Cancel</Button>
            <Button loading={bulk.isPending} disabled={dialog === 'assign' ? !assignee.trim() : !disposition || !reason.trim()} onClick={() => run(dialog!)}>
              {dialog === 'close' ? 'Close alerts' : 'Assign'}</Button>
          </Group>
        </Stack>
      </Modal>
    </Callout>
  );
}

function AlertRows({ alerts, selected, setSelected }: { alerts: Alert[]; selected: Set<string>; setSelected: (s: Set<string>) => void }) {
  const users = useUserNames();
  const allOn = alerts.length > 0 && alerts.every((a) => selected.has(a.id));
  const toggle = (id: string) => { const s = new Set(selected); if (s.has(id)) s.delete(id); else s.add(id); setSelected(s); };
  return (
    <Table aria-label="Alerts" striped verticalSpacing="xs" fz="sm">
      <Table.Thead><Table.Tr>
        <Table.Th w={32}><Checkbox aria-label="Select every alert on this page" checked={allOn} indeterminate={!allOn && alerts.some((a) => selected.has(a.id))}
          onChange={() => setSelected(allOn ? new Set() : new Set(alerts.map((a) => a.id)))} /></Table.Th>
        {['Last seen', 'Severity', 'Rule', 'Host', 'Process', 'Count', 'Status', 'Assignee', ''].map((h) => <Table.Th key={h}>{h}</Table.Th>)}
      </Table.Tr></Table.Thead>
      <Table.Tbody>{alerts.map((a) => (
        <Table.Tr key={a.id}>
          <Table.Td><Checkbox aria-label={`Select ${a.rule.title}`} checked={selected.has(a.id)} onChange={() => toggle(a.id)} /></Table.Td>
          <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatTime(a.last_seen)}</Table.Td>
          <Table.Td><SeverityBadge level={a.rule.level} /></Table.Td>
          <Table.Td><Anchor component={Link} to={`/alerts/${a.id}`}>{a.rule.title}</Anchor></Table.Td>
          <Table.Td style={{ whiteSpace: 'nowrap' }}><HostLink id={a.host_id} /></Table.Td>
          <Table.Td style={{ maxWidth: 260 }}>{a.process && a.host_id
            ? <Anchor component={Link} to={processUrl(a.host_id, a.process.entity_id)} title={a.process.command_line} size="sm">{basename(a.process.executable)} <Text span size="xs" c="dimmed">{a.process.pid}</Text></Anchor>
            : <Text size="sm" c="dimmed">—</Text>}</Table.Td>
          <Table.Td ta="right">{a.occurrences ?? 1}</Table.Td>
          <Table.Td style={{ whiteSpace: 'nowrap', minWidth: 120 }}><AlertStatusBadge status={a.status} />{a.disposition && <Text size="xs" c="dimmed">{String(a.disposition).replace(/_/g, ' ')}</Text>}</Table.Td>
          <Table.Td>{userLabel(users, a.assignee)}</Table.Td>
          <Table.Td><AlertTriage alert={a} compact /></Table.Td>
        </Table.Tr>
      ))}</Table.Tbody>
    </Table>
  );
}

function FlatList({ filter, limit, setLimit }: { filter: Filter; limit: number; setLimit: (n: number) => void }) {
  const paging = usePaging(JSON.stringify([filter, limit]));
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const q = useQuery({
    queryKey: ['alerts', 'page', filter, limit, paging.cursor], refetchInterval: 10_000,
    queryFn: () => api<AlertPage>(`/alerts${queryString({ ...filter, limit, cursor: paging.cursor })}`),
  });
  useEffect(() => setSelected(new Set()), [paging.cursor, JSON.stringify(filter)]);
  return (
    <QueryState query={q} what="Alerts" isEmpty={(d) => d.alerts.length === 0 && paging.page === 1} empty="No alert matches these filters.">
      {(d) => (
        <Stack gap="xs">
          <Group justify="space-between">
            <Text size="sm" data-testid="alert-total">{d.total !== undefined ? `${d.total.toLocaleString()} alert${d.total === 1 ? '' : 's'} match` : `${d.alerts.length} alerts on this page`}
              {d.total !== undefined && d.total > d.alerts.length && ` · showing ${((paging.page - 1) * limit + 1).toLocaleString()}–${((paging.page - 1) * limit + d.alerts.length).toLocaleString()}`}</Text>
            <Pager page={paging.page} next={d.next} onNext={paging.next} onPrev={paging.prev} limit={limit} setLimit={setLimit} />
          </Group>
          <BulkBar selected={[...selected]} filter={filter} total={d.total ?? d.alerts.length} onDone={() => setSelected(new Set())} />
          <AlertRows alerts={d.alerts} selected={selected} setSelected={setSelected} />
        </Stack>
      )}
    </QueryState>
  );
}

function StatusCounts({ s }: { s: Record<string, number> }) {
  return <Group gap={4}>{Object.entries(s).filter(([, n]) => n > 0).map(([k, n]) => <AlertStatusBadge key={k} status={k as AlertStatus} count={n} />)}</Group>;
}

function Grouped({ filter, by, limit, setLimit, onOpen }: { filter: Filter; by: string; limit: number; setLimit: (n: number) => void; onOpen: (g: AlertGroup) => void }) {
  const paging = usePaging(JSON.stringify([filter, by, limit]));
  const hosts = useHostNames();
  const q = useQuery({
    queryKey: ['alerts', 'groups', by, filter, limit, paging.cursor], refetchInterval: 10_000,
    queryFn: () => api<GroupPage>(`/alerts${queryString({ ...filter, group_by: by, limit, cursor: paging.cursor })}`),
  });
  const labelOf = (g: AlertGroup) => {
    if (!g.key) return by === 'host' ? '(no host)' : by === 'process' ? '(no process)' : '(no rule)';
    if (by === 'host') return g.label ?? hostLabel(hosts, g.key);
    return g.label ?? g.key;
  };
  return (
    <QueryState query={q} what="Alert groups" isEmpty={(d) => d.groups.length === 0} empty="No alert matches these filters.">
      {(d) => (
        <Stack gap="xs">
          <Group justify="space-between">
            <Text size="sm" data-testid="alert-total">{d.total.toLocaleString()} alerts in {d.total_groups.toLocaleString()} {by === 'process' ? 'processes' : `${by}s`}</Text>
            <Pager page={paging.page} next={d.next} onNext={paging.next} onPrev={paging.prev} limit={limit} setLimit={setLimit} />
          </Group>
          <Table aria-label="Alert groups" striped verticalSpacing="xs" fz="sm">
            <Table.Thead><Table.Tr>{[by === 'process' ? 'Process' : by === 'host' ? 'Host' : 'Rule', ...(by === 'process' ? ['Host'] : []), 'Alerts', 'Occurrences', 'Highest', 'Statuses', 'Last seen'].map((h) => <Table.Th key={h}>{h}</Table.Th>)}</Table.Tr></Table.Thead>
            <Table.Tbody>{d.groups.map((g) => (
              <Table.Tr key={g.key || '(none)'}>
                <Table.Td style={{ wordBreak: 'break-all', maxWidth: 480 }}>
                  {g.key ? <Anchor component="button" type="button" size="sm" ff={by === 'process' ? 'monospace' : undefined} onClick={() => onOpen(g)} ta="left">{labelOf(g)}</Anchor> : <Text size="sm" c="dimmed">{labelOf(g)}</Text>}
                  {by === 'process' && g.key && g.host_id && <Anchor component={Link} to={processUrl(g.host_id, g.key)} size="xs" display="block">process page</Anchor>}
                </Table.Td>
                {by === 'process' && <Table.Td>{g.host_id ? <HostLink id={g.host_id} /> : '—'}</Table.Td>}
                <Table.Td ta="right">{g.count.toLocaleString()}</Table.Td>
                <Table.Td ta="right">{g.occurrences.toLocaleString()}</Table.Td>
                <Table.Td><SeverityBadge level={g.max_severity} /></Table.Td>
                <Table.Td><StatusCounts s={g.statuses} /></Table.Td>
                <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatTime(g.last_seen)}</Table.Td>
              </Table.Tr>
            ))}</Table.Tbody>
          </Table>
        </Stack>
      )}
    </QueryState>
  );
}

export function AlertsPage() {
  const [params, setParams] = useSearchParams();
  const filter: Filter = Object.fromEntries(FILTERS.flatMap((k) => (params.get(k) ? [[k, params.get(k)!]] : [])));
  const group = params.get('group') ?? 'none';
  const [limit, setLimit] = useState(50);
  const hosts = useHosts();
  const hostNames = useHostNames();
  const rules = useRules();
  const set = (changes: Record<string, string | null>) => {
    const p = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) if (v) p.set(k, v); else p.delete(k);
    setParams(p);
  };
  // The host filter takes a name (completed from the tenant's hosts); a host id from a link is shown by name.
  const hostValue = filter.host ? hostNames.get(filter.host) ?? filter.host : '';
  const [hostText, setHostText] = useState(hostValue);
  useEffect(() => setHostText(hostValue), [hostValue]);
  const hostOptions = useMemo(() => [...new Set((hosts.data?.hosts ?? []).map((h) => h.hostname))].sort(), [hosts.data]);
  const ruleOptions = useMemo(() => (rules.data?.rules ?? []).map((r) => ({ value: r.id, label: r.title })), [rules.data]);
  const time = (k: 'from' | 'to', label: string) => (
    <TextInput type="datetime-local" label={label} w={190} value={params.get(k) ? localInputValue(new Date(params.get(k)!)) : ''}
      onChange={(e) => set({ [k]: e.currentTarget.value ? new Date(e.currentTarget.value).toISOString() : null })} />
  );
  const openGroup = (g: AlertGroup) => set({ [GROUP_FILTER[group]]: g.key, group: null });
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Alerts</Title>
        <Group gap="xs">
          <Text size="sm" c="dimmed">Group by</Text>
          <SegmentedControl aria-label="Group by" value={group} onChange={(v) => set({ group: v === 'none' ? null : v })}
            data={[{ value: 'none', label: 'None' }, { value: 'rule', label: 'Rule' }, { value: 'host', label: 'Host' }, { value: 'process', label: 'Process' }]} />
        </Group>
      </Group>
      <Group align="flex-end" gap="sm">
        <Select label="Severity" clearable w={125} value={filter.severity ?? null} onChange={(v) => set({ severity: v })} data={['informational', 'low', 'medium', 'high', 'critical']} />
        <Select label="Status" clearable w={135} value={filter.status ?? null} onChange={(v) => set({ status: v })} data={['open', 'acknowledged', 'closed', 'excepted']} />
        <Autocomplete label="Host" placeholder="host name" w={160} data={hostOptions} value={hostText} onChange={setHostText}
          onOptionSubmit={(v) => set({ host: v })} onBlur={() => set({ host: hostText.trim() || null })}
          onKeyDown={(e) => { if (e.key === 'Enter') set({ host: hostText.trim() || null }); }} />
        <Select label="Rule" clearable searchable w={220} data={ruleOptions} value={filter.rule ?? null} onChange={(v) => set({ rule: v })}
          nothingFoundMessage="no such rule" placeholder={filter.rule && !ruleOptions.some((r) => r.value === filter.rule) ? filter.rule : undefined} />
        <Select label="Disposition" clearable w={140} value={filter.disposition ?? null} onChange={(v) => set({ disposition: v })}
          data={[{ value: 'true_positive', label: 'true positive' }, { value: 'benign', label: 'benign' }, { value: 'false_positive', label: 'false positive' }]} />
        {time('from', 'From')}{time('to', 'To')}
      </Group>
      {PIVOT_FILTERS.filter(([k]) => filter[k]).map(([k, label, clear]) => (
        <Group key={k} gap="xs" data-testid={`alert-filter-${k}`}><Text size="sm">{label}</Text>
          <Badge variant="light" size="lg" ff={k === 'user' ? undefined : 'monospace'} style={{ textTransform: 'none', maxWidth: 640 }} title={filter[k]}>{filter[k]}</Badge>
          <Button size="compact-xs" variant="subtle" onClick={() => set({ [k]: null })}>{clear}</Button></Group>
      ))}
      {group === 'none' ? <FlatList filter={filter} limit={limit} setLimit={setLimit} /> : GROUP_FILTER[group]
        ? <Grouped filter={filter} by={group} limit={limit} setLimit={setLimit} onOpen={openGroup} />
        : <ErrorState error={new Error(`unknown grouping ${group}`)} what="Alerts" />}
    </Stack>
  );
}
