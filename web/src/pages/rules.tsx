// Rules: the detection rules with their source and level, enable/disable in place, delete custom rules,
// and upload a Sigma rule (tested before it is saved).

import { useState } from 'react';
import { Badge, Button, Group, Modal, Stack, Switch, TextInput, Title } from '@mantine/core';
import { useApiAction, useRules } from '../api/queries.ts';
import type { Rule } from '../api/types.ts';
import { LEVEL_ORDER, SeverityBadge } from '../components/badges.tsx';
import { ErrorState, QueryState } from '../components/query-state.tsx';
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

const COLUMNS: Column<Rule>[] = [
  { key: 'enabled', label: 'On', render: (r) => <EnableSwitch rule={r} /> },
  { key: 'title', label: 'Title', render: (r) => r.title, sortValue: (r) => r.title, wrap: true },
  { key: 'level', label: 'Level', render: (r) => <SeverityBadge level={r.level} />, sortValue: (r) => LEVEL_ORDER[r.level] ?? 0 },
  { key: 'source', label: 'Source', render: (r) => <Badge variant="light" color="gray">{r.source ?? '—'}</Badge>, sortValue: (r) => r.source ?? '' },
  { key: 'author', label: 'Author', render: (r) => r.author ?? '—', sortValue: (r) => r.author ?? '' },
  { key: 'status', label: 'Status', render: (r) => r.status ?? '—', sortValue: (r) => r.status ?? '' },
  { key: 'actions', label: '', render: (r) => <DeleteButton rule={r} /> },
];

export function RulesPage() {
  const rules = useRules();
  const [search, setSearch] = useState('');
  const [uploading, setUploading] = useState(false);
  const needle = search.toLowerCase();
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Rules</Title>
        <Group>
          <TextInput placeholder="Search rules" aria-label="Search rules" value={search} onChange={(e) => setSearch(e.currentTarget.value)} />
          <Button onClick={() => setUploading(true)}>Upload Sigma rule</Button>
        </Group>
      </Group>
      <QueryState query={rules} what="Rules" isEmpty={(d) => d.rules.length === 0}>
        {(d) => <SortableTable label="Rules" rows={d.rules.filter((r) => `${r.title} ${r.id} ${r.author ?? ''}`.toLowerCase().includes(needle))}
          columns={COLUMNS} rowKey={(r) => r.id} initialSort={{ key: 'title', desc: false }} />}
      </QueryState>
      <Modal opened={uploading} onClose={() => setUploading(false)} title="Upload a Sigma rule" size="xl">
        <RuleEditor onSaved={() => setUploading(false)} />
      </Modal>
    </Stack>
  );
}
