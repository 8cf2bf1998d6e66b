// Rules: the detection rules with their source, level and coverage (does Vigil collect the log source the rule
// needs: collected, partial, not collected, with the reason), the totals and a coverage filter (kept in the URL);
// enable/disable in place, delete custom rules, and upload a Sigma rule (dry-run over a chosen range before saving).

import { useMemo, useState } from 'react';
import { Badge, Button, Group, Modal, Select, Stack, Switch, Text, TextInput, Title } from '@mantine/core';
import { useSearchParams } from 'react-router';
import { useApiAction, useRules } from '../api/queries.ts';
import type { Rule, RuleList } from '../api/types.ts';
import { CoverageBadge, LEVEL_ORDER, NO_ELLIPSIS, SeverityBadge } from '../components/badges.tsx';
import { EmptyState, ErrorState, QueryState } from '../components/query-state.tsx';
import { RuleEditor } from '../components/rule-editor.tsx';
import { SortableTable, type Column } from '../components/sortable-table.tsx';

function EnableSwitch({ rule }: { rule: Rule }) {
  const toggle = useApiAction((on: boolean) => ({ path: `/rules/${encodeURIComponent(rule.id)}/${on ? 'enable' : 'disable'}` }), ['rules']);
  return (
    <Group gap="xs">
      <Switch aria-label={`Enable ${rule.title}`} checked={rule.enabled ?? true} disabled={toggle.isPending} onChange={(e) => toggle.mutate(e.currentTarget.checked)} />
      {toggle.isError && <ErrorState error={toggle.error} what="Rule" />}
    </Group>
  );
}

function DeleteButton({ rule }: { rule: Rule }) {
  const remove = useApiAction(() => ({ path: `/rules/${encodeURIComponent(rule.id)}`, method: 'DELETE' }), ['rules']);
  if (rule.source !== 'custom' && rule.source !== 'sigma') return null;
  return <Button size="xs" variant="subtle" color="red" loading={remove.isPending} onClick={() => { if (confirm(`Delete rule "${rule.title}"?`)) remove.mutate(undefined); }}>Delete</Button>;
}

const COVERAGE_RANK: Record<string, number> = { collected: 0, partial: 1, not_collected: 2 };

const COVERAGE_FILTERS = [
  { value: 'all', label: 'Every rule' },
  { value: 'not_collected', label: 'Needs a log source Vigil does not collect' },
  { value: 'partial', label: 'Partly collected (eBPF sensor only, or any log)' },
  { value: 'collected', label: 'Collected by every sensor' },
];

/** The server's coverage totals over every loaded rule; each one filters the list on it. */
function CoverageTotals({ list, onPick }: { list: RuleList; onPick: (c: string) => void }) {
  const c = list.coverage;
  if (!c) return null;
  const item = (key: string, n: number, text: string, colour: string) => (
    <Button key={key} size="compact-sm" variant="subtle" color={n ? colour : 'gray'} onClick={() => onPick(key)} data-total={key}>{n.toLocaleString()} {text}</Button>
  );
  return (
    <Group gap={4} data-testid="coverage-totals">
      <Text size="sm">{list.rules.length.toLocaleString()} rules:</Text>
      {item('collected', c.collected, 'collected', 'green')}
      {item('partial', c.partial, 'partial', 'yellow')}
      {item('not_collected', c.not_collected, `need${c.not_collected === 1 ? 's' : ''} a log source Vigil does not collect`, 'red')}
      {list.rejected ? <Text size="sm" c="dimmed">· {list.rejected} rejected at load</Text> : null}
    </Group>
  );
}

/** The columns; `named` writes the rule ids a coverage reason mentions (a correlation's references) as titles. */
const columnsFor = (named: (text: string | undefined) => string | undefined): Column<Rule>[] => [
  { key: 'enabled', label: 'On', render: (r) => <EnableSwitch rule={r} /> },
  { key: 'title', label: 'Title', render: (r) => r.title, sortValue: (r) => r.title, wrap: true },
  { key: 'level', label: 'Level', render: (r) => <SeverityBadge level={r.level} />, sortValue: (r) => LEVEL_ORDER[r.level] ?? 0 },
  { key: 'source', label: 'Source', render: (r) => <Badge variant="light" color="gray" styles={NO_ELLIPSIS}>{r.source ?? '—'}</Badge>, sortValue: (r) => r.source ?? '' },
  { key: 'author', label: 'Author', render: (r) => r.author ?? '—', sortValue: (r) => r.author ?? '' },
  { key: 'coverage', label: 'Coverage', wrap: true, sortValue: (r) => COVERAGE_RANK[r.coverage ?? ''] ?? 3, render: (r) => r.coverage ? (
    <Stack gap={2} maw={380}>
      <Group gap={6} wrap="nowrap"><CoverageBadge coverage={r.coverage} reason={named(r.coverage_reason)} />{r.coverage_logsource && <Text size="xs" ff="monospace" c="dimmed">{r.coverage_logsource}</Text>}</Group>
      {r.coverage !== 'collected' && r.coverage_reason && <Text size="xs" c="dimmed" data-testid="coverage-reason">{named(r.coverage_reason)}</Text>}
    </Stack>) : <Text size="xs" c="dimmed">—</Text> },
  { key: 'status', label: 'Status', render: (r) => r.status ?? '—', sortValue: (r) => r.status ?? '' },
  { key: 'actions', label: '', render: (r) => <DeleteButton rule={r} /> },
];

export function RulesPage() {
  const rules = useRules();
  const [search, setSearch] = useState('');
  const [uploading, setUploading] = useState(false);
  const [params, setParams] = useSearchParams();
  const coverage = params.get('coverage') ?? 'all';
  const setCoverage = (v: string | null) => setParams(!v || v === 'all' ? {} : { coverage: v });
  const needle = search.toLowerCase();
  const columns = useMemo(() => {
    const titles = new Map((rules.data?.rules ?? []).map((r) => [r.id, r.title]));
    const named = (text: string | undefined) => text?.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, (id) => (titles.has(id) ? `"${titles.get(id)}"` : id));
    return columnsFor(named);
  }, [rules.data]);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Rules</Title>
        <Group>
          <Select aria-label="Coverage" data={COVERAGE_FILTERS} value={coverage} onChange={setCoverage} allowDeselect={false} w={330} />
          <TextInput placeholder="Search rules" aria-label="Search rules" value={search} onChange={(e) => setSearch(e.currentTarget.value)} />
          <Button onClick={() => setUploading(true)}>Upload Sigma rule</Button>
        </Group>
      </Group>
      <QueryState query={rules} what="Rules" isEmpty={(d) => d.rules.length === 0}>
        {(d) => {
          const rows = d.rules.filter((r) => (coverage === 'all' || r.coverage === coverage) && `${r.title} ${r.id} ${r.author ?? ''}`.toLowerCase().includes(needle));
          return (
            <Stack gap="xs">
              <CoverageTotals list={d} onPick={setCoverage} />
              {(coverage !== 'all' || needle) && <Text size="sm" c="dimmed" data-testid="rules-shown">{rows.length.toLocaleString()} of {d.rules.length.toLocaleString()} rules shown</Text>}
              {rows.length === 0
                ? <EmptyState>No rule {coverage === 'all' ? 'matches the search' : `is ${COVERAGE_FILTERS.find((f) => f.value === coverage)?.label.toLowerCase() ?? coverage}`}{coverage !== 'all' && needle ? ' and the search' : ''}.</EmptyState>
                : <SortableTable label="Rules" rows={rows} columns={columns} rowKey={(r) => r.id} initialSort={{ key: 'title', desc: false }} />}
            </Stack>
          );
        }}
      </QueryState>
      <Modal opened={uploading} onClose={() => setUploading(false)} title="Upload a Sigma rule" size="xl">
        <RuleEditor onSaved={() => setUploading(false)} />
      </Modal>
    </Stack>
  );
}
