// The MITRE ATT&CK tactic view: alerts per technique over every alert of the chosen statuses (open and
// acknowledged, or all), counted by the server (GET /stats/mitre), tactics in kill-chain order. Each technique
// opens the alerts of the rules that carry it (the alert list filters by rule, not by technique) or a hunt for
// events tagged with it; a technique linked from an alert (#T1059) is highlighted. ATT&CK's attribution is shown.

import { useEffect, useMemo } from 'react';
import { Anchor, Badge, Card, Group, Menu, SegmentedControl, SimpleGrid, Stack, Text, Title, UnstyledButton } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link, useLocation, useSearchParams } from 'react-router';
import { api } from '../api/client.ts';
import { useRules } from '../api/queries.ts';
import { huntSql, huntUrl, sqlString } from '../components/pivots.tsx';
import { QueryState } from '../components/query-state.tsx';

/** GET /stats/mitre */
export interface MitreStats {
  statuses: string[]; alerts: number;
  techniques: { id: string; name: string; tactics: string[]; alerts: number }[];
  tactics: { id: string | null; name: string; techniques: { id: string; name: string; alerts: number }[] }[];
}

const STATUS_CHOICES = [{ value: 'open,acknowledged', label: 'Open and acknowledged' }, { value: 'all', label: 'All statuses' }];

/** The copyright line ATT&CK's licence asks to reproduce wherever its content is shown (src/detect/mitre-table.json). */
const ATTRIBUTION = '© 2025 The MITRE Corporation. This work is reproduced and distributed with the permission of The MITRE Corporation.';

/** ATT&CK's tactic names (the API gives the short names, e.g. command-and-control), by tactic id. */
const TACTIC_NAMES: Record<string, string> = {
  TA0043: 'Reconnaissance', TA0042: 'Resource Development', TA0001: 'Initial Access', TA0002: 'Execution', TA0003: 'Persistence',
  TA0004: 'Privilege Escalation', TA0005: 'Defense Evasion', TA0006: 'Credential Access', TA0007: 'Discovery', TA0008: 'Lateral Movement',
  TA0009: 'Collection', TA0011: 'Command and Control', TA0010: 'Exfiltration', TA0040: 'Impact',
};

const attackUrl = (id: string) => `https://attack.mitre.org/techniques/${id.replace('.', '/')}/`;
const tacticTitle = (id: string | null, name: string) => (id && TACTIC_NAMES[id]) || name.replace(/-/g, ' ').replace(/^./, (c) => c.toUpperCase());

/** What a technique's count opens: the alert list for each rule carrying it, and a hunt for events tagged with it. */
function TechniqueMenu({ id, alerts, rules, status }: { id: string; alerts: number; rules: { id: string; title: string }[]; status: string }) {
  const statusParam = status === 'all' ? '' : `&status=${encodeURIComponent(status)}`;
  return (
    <Menu position="bottom-end" withinPortal>
      <Menu.Target>
        <UnstyledButton aria-label={`${alerts} alerts with ${id}`} data-count={alerts} style={{ flexShrink: 0 }}>
          <Badge size="sm" variant="light" style={{ cursor: 'pointer', maxWidth: 'none', overflow: 'visible' }} styles={{ label: { overflow: 'visible' } }}>{alerts.toLocaleString()} alert{alerts === 1 ? '' : 's'}</Badge>
        </UnstyledButton>
      </Menu.Target>
      <Menu.Dropdown maw={420}>
        <Menu.Label>Alerts of the rules carrying {id}</Menu.Label>
        {rules.length === 0 && <Menu.Item disabled>no loaded rule carries it (its rules were removed)</Menu.Item>}
        {rules.map((r) => <Menu.Item key={r.id} component={Link} to={`/alerts?rule=${encodeURIComponent(r.id)}${statusParam}`}>{r.title}</Menu.Item>)}
        <Menu.Divider />
        <Menu.Item component={Link} to={huntUrl(huntSql(`has(mitre, ${sqlString(id)})`))}>Hunt: events tagged {id}</Menu.Item>
        <Menu.Item component="a" href={attackUrl(id)} target="_blank" rel="noreferrer">{id} on attack.mitre.org</Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );
}

function TacticGrid({ stats, focus, status, rulesOf }: { stats: MitreStats; focus: string; status: string; rulesOf: Map<string, { id: string; title: string }[]> }) {
  useEffect(() => { if (focus) document.getElementById(focus)?.scrollIntoView({ block: 'center' }); }, [focus, stats]);
  if (!stats.tactics.length) {
    return <Text c="dimmed" data-state="empty">None of the {stats.alerts.toLocaleString()} alerts ({stats.statuses.join(', ')}) carries a MITRE technique.</Text>;
  }
  return (
    <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }}>
      {stats.tactics.map((tactic) => (
        <Card key={tactic.name} withBorder data-tactic={tactic.name}>
          <Group justify="space-between" mb="xs" wrap="nowrap" align="flex-start">
            <Title order={5}>{tacticTitle(tactic.id, tactic.name)}</Title>
            {tactic.id && <Anchor href={`https://attack.mitre.org/tactics/${tactic.id}/`} target="_blank" rel="noreferrer" size="xs" c="dimmed">{tactic.id}</Anchor>}
          </Group>
          <Stack gap={6}>
            {tactic.techniques.map((t) => (
              <Group key={t.id} gap="xs" wrap="nowrap" justify="space-between" align="flex-start" data-technique={t.id}
                id={t.id} bg={t.id === focus ? 'var(--mantine-color-yellow-light)' : undefined}>
                <Anchor href={attackUrl(t.id)} target="_blank" rel="noreferrer" size="sm" fw={t.id === focus ? 700 : undefined}>
                  <Text span ff="monospace" inherit>{t.id}</Text> {t.name || 'unnamed technique'}
                </Anchor>
                <TechniqueMenu id={t.id} alerts={t.alerts} rules={rulesOf.get(t.id) ?? []} status={status} />
              </Group>
            ))}
          </Stack>
        </Card>
      ))}
    </SimpleGrid>
  );
}

export function MitrePage() {
  const [params, setParams] = useSearchParams();
  const status = params.get('status') === 'all' ? 'all' : 'open,acknowledged';
  const stats = useQuery({
    queryKey: ['stats', 'mitre', status], refetchInterval: 10_000,
    queryFn: () => api<MitreStats>(`/stats/mitre?status=${encodeURIComponent(status)}`),
  });
  const rules = useRules();
  const rulesOf = useMemo(() => {
    const out = new Map<string, { id: string; title: string }[]>();
    for (const r of rules.data?.rules ?? []) {
      for (const id of r.techniques) {
        out.set(id, [...(out.get(id) ?? []), { id: r.id, title: r.title }]);
      }
    }
    return out;
  }, [rules.data]);
  const focus = useLocation().hash.slice(1);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>MITRE ATT&CK tactics</Title>
        <SegmentedControl aria-label="Alert statuses" data={STATUS_CHOICES} value={status}
          onChange={(v) => setParams(v === 'all' ? { status: 'all' } : {})} />
      </Group>
      <QueryState query={stats} what="MITRE statistics">
        {(s) => (
          <Stack>
            <Text size="sm" c="dimmed" data-testid="mitre-summary" data-alerts={s.alerts}>
              Counted over every {status === 'all' ? '' : 'open or acknowledged '}alert: {s.alerts.toLocaleString()} alert{s.alerts === 1 ? '' : 's'},
              {' '}{s.techniques.length} technique{s.techniques.length === 1 ? '' : 's'} among them. An alert counts once under each of its
              techniques, and under each tactic of the technique. Tactics in kill-chain order.
            </Text>
            <TacticGrid stats={s} focus={focus} status={status} rulesOf={rulesOf} />
          </Stack>
        )}
      </QueryState>
      <Text size="xs" c="dimmed" data-testid="attack-attribution">
        MITRE ATT&CK® technique and tactic names: {ATTRIBUTION} ATT&CK® is a registered trademark of The MITRE Corporation.
      </Text>
    </Stack>
  );
}
