// The MITRE ATT&CK tactic view: the techniques of the open and acknowledged alerts grouped by tactic, with
// alert counts; a technique linked from an alert (#T1059) is highlighted.

import { useMemo } from 'react';
import { Anchor, Badge, Card, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useLocation } from 'react-router';
import { useAlerts } from '../api/queries.ts';
import type { Alert, Technique } from '../api/types.ts';
import { QueryState } from '../components/query-state.tsx';

/** tactic → technique id → {technique, alert count} */
function byTactic(alerts: Alert[]): Map<string, Map<string, { t: Technique; n: number }>> {
  const out = new Map<string, Map<string, { t: Technique; n: number }>>();
  for (const a of alerts) for (const t of a.techniques) for (const tactic of t.tactics) {
    const m = out.get(tactic) ?? new Map();
    out.set(tactic, m);
    const hit = m.get(t.id) ?? { t, n: 0 };
    hit.n++;
    m.set(t.id, hit);
  }
  return out;
}

function TacticGrid({ alerts, focus }: { alerts: Alert[]; focus: string }) {
  const tactics = useMemo(() => byTactic(alerts), [alerts]);
  if (!tactics.size) return <Text c="dimmed">No alert carries a MITRE technique yet.</Text>;
  return (
    <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }}>
      {[...tactics].map(([tactic, techniques]) => (
        <Card key={tactic} withBorder>
          <Title order={5} tt="capitalize" mb="xs">{tactic.replace(/-/g, ' ')}</Title>
          <Stack gap={4}>
            {[...techniques.values()].map(({ t, n }) => (
              <Anchor key={t.id} id={t.id} href={`https://attack.mitre.org/techniques/${t.id.replace('.', '/')}/`} target="_blank" size="sm"
                fw={t.id === focus ? 700 : undefined} bg={t.id === focus ? 'var(--mantine-color-yellow-light)' : undefined}>
                {t.id} {t.name} <Badge size="xs" variant="light">{n}</Badge>
              </Anchor>
            ))}
          </Stack>
        </Card>
      ))}
    </SimpleGrid>
  );
}

export function MitrePage() {
  const alerts = useAlerts({ limit: 1000 });
  const focus = useLocation().hash.slice(1);
  return (
    <Stack>
      <Title order={2}>MITRE ATT&CK tactics</Title>
      <QueryState query={alerts} what="Alerts">{(d) => <TacticGrid alerts={d.alerts.filter((a) => a.status === 'open' || a.status === 'acknowledged')} focus={focus} />}</QueryState>
    </Stack>
  );
}
