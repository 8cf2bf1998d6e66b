// Badges of alert delivery: a sink's circuit breaker and a delivery's state, and the deliveries of one alert (the
// alert page's "Deliveries" panel: which sink has it, which is still trying and why, which gave up).

import { Badge, Stack, Table, Text } from '@mantine/core';
import { useAlertDeliveries, type Delivery, type SinkHealth } from '../api/alert-sinks.ts';
import { NO_ELLIPSIS } from './badges.tsx';
import { formatTime } from './format.ts';
import { QueryState } from './query-state.tsx';

const BREAKER: Record<SinkHealth['breaker'], { colour: string; label: string }> = {
  closed: { colour: 'green', label: 'breaker closed' }, half_open: { colour: 'yellow', label: 'breaker half-open' }, open: { colour: 'red', label: 'breaker open' },
};
const STATE_COLOURS: Record<Delivery['state'], string> = { delivered: 'green', pending: 'yellow', dead: 'red', suppressed: 'gray' };
const STATE_LABELS: Record<Delivery['state'], string> = { delivered: 'delivered', pending: 'retrying', dead: 'dead letter', suppressed: 'suppressed (repeat)' };
const WIDE = { flexShrink: 0, maxWidth: 'none', overflow: 'visible' } as const;

export function BreakerBadge({ health }: { health: SinkHealth }) {
  const b = BREAKER[health.breaker];
  const until = health.breaker === 'closed' || !health.breaker_until ? '' : ` (probe after ${formatTime(health.breaker_until)})`;
  return <Badge color={b.colour} variant="light" title={`${health.failures} failures in a row${until}`} data-breaker={health.breaker} style={WIDE} styles={NO_ELLIPSIS}>{b.label}</Badge>;
}

export function DeliveryStateBadge({ d }: { d: Delivery }) {
  const label = d.state === 'pending' && d.attempts === 0 ? 'queued' : STATE_LABELS[d.state];
  return <Badge color={STATE_COLOURS[d.state]} variant="light" data-delivery-state={d.state} style={WIDE} styles={NO_ELLIPSIS}>{label}</Badge>;
}

/** The deliveries of one alert, one row per sink. */
export function AlertDeliveries({ alertId }: { alertId: string }) {
  const deliveries = useAlertDeliveries(alertId);
  return (
    <Stack gap="xs">
      <QueryState query={deliveries} what="Deliveries" isEmpty={(d) => d.deliveries.length === 0} empty="No alert sink takes this alert (none configured, or their filters leave it out).">
        {(d) => (
          <Table fz="sm" aria-label="Deliveries">
            <Table.Thead><Table.Tr><Table.Th>Sink</Table.Th><Table.Th>State</Table.Th><Table.Th>Attempts</Table.Th><Table.Th>Delivered</Table.Th><Table.Th>Last error</Table.Th></Table.Tr></Table.Thead>
            <Table.Tbody>{d.deliveries.map((x) => (
              <Table.Tr key={x.id}>
                <Table.Td>{x.sink_name ?? x.sink_id} <Text span size="xs" c="dimmed">{x.sink_type}</Text></Table.Td>
                <Table.Td><DeliveryStateBadge d={x} /></Table.Td>
                <Table.Td>{x.attempts}{x.state === 'pending' && x.next_attempt_at ? <Text span size="xs" c="dimmed"> · next {formatTime(x.next_attempt_at)}</Text> : null}</Table.Td>
                <Table.Td>{x.delivered_at ? formatTime(x.delivered_at) : '—'}</Table.Td>
                <Table.Td><Text size="xs" c={x.last_error ? 'red' : 'dimmed'}>{x.last_error ?? '—'}</Text></Table.Td>
              </Table.Tr>
            ))}</Table.Tbody>
          </Table>
        )}
      </QueryState>
    </Stack>
  );
}
