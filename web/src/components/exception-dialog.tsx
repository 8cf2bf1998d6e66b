// "Create exception" from an alert: the analyst ticks the fields of the alert's event that make it expected
// (executable, command line, parent, path, user, destination…), chooses how they compare and where the
// exception applies, and the dialog says in plain words what the exception will do before it is created
// (POST /alerts/{id}/exception).

import { useMemo, useState } from 'react';
import { Alert as Callout, Button, Checkbox, Code, Group, Modal, SegmentedControl, Select, Stack, Text, TextInput, Textarea } from '@mantine/core';
import { useApiAction } from '../api/queries.ts';
import type { Alert, EventRecord } from '../api/types.ts';
import { hostLabel, useHostNames } from './names.tsx';
import { ErrorState } from './query-state.tsx';

/** Fields an exception may compare, in the order offered. */
export const EXCEPTION_FIELDS = [
  'process.executable', 'process.command_line', 'process.name', 'process.parent.executable', 'process.parent.command_line',
  'process.working_directory', 'file.path', 'user.name', 'destination.ip', 'destination.port', 'source.ip',
];

export const OPS = [
  { value: 'equals', label: 'equals' }, { value: 'contains', label: 'contains' },
  { value: 'startswith', label: 'starts with' }, { value: 'endswith', label: 'ends with' },
];

export function fieldValue(e: EventRecord | undefined, path: string): string | undefined {
  let v: unknown = e;
  for (const k of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
}

export function opLabel(op: string): string { return OPS.find((o) => o.value === op)?.label ?? op; }

export function ExceptionDialog({ alert, opened, onClose }: { alert: Alert; opened: boolean; onClose: () => void }) {
  const event = alert.events[0];
  const candidates = useMemo(() => EXCEPTION_FIELDS.flatMap((f) => { const v = fieldValue(event, f); return v ? [[f, v] as const] : []; }), [event]);
  const [fields, setFields] = useState<string[]>([]);
  const [op, setOp] = useState('equals');
  const [scope, setScope] = useState<'host' | 'tenant'>('host');
  const [reason, setReason] = useState('');
  const [expires, setExpires] = useState('');
  const hosts = useHostNames();
  const create = useApiAction(() => ({
    path: `/alerts/${encodeURIComponent(alert.id)}/exception`,
    body: { fields, op, scope, reason: reason.trim(), ...(expires ? { expires_at: new Date(expires).toISOString() } : {}) },
  }), ['exceptions', 'alerts']);
  const close = () => { create.reset(); onClose(); };
  const where = scope === 'host' ? `on ${hostLabel(hosts, alert.host_id)} only` : 'on every host of this tenant';
  return (
    <Modal opened={opened} onClose={close} title="Create an exception" size="lg">
      <Stack>
        <Text size="sm">Alerts of <b>{alert.rule.title}</b> that match what you tick below will be treated as expected.</Text>
        {candidates.length === 0
          ? <Text size="sm" c="dimmed">The alert's event has none of the fields an exception compares: the exception will except every alert of this rule {where}.</Text>
          : (
            <Checkbox.Group label="Match on" value={fields} onChange={setFields}>
              <Stack gap={6} mt={4}>
                {candidates.map(([f, v]) => (
                  <Checkbox key={f} value={f} label={<span><Code>{f}</Code> <Text span size="sm" ff="monospace" style={{ wordBreak: 'break-all' }}>{v}</Text></span>} aria-label={`${f} ${v}`} />
                ))}
              </Stack>
            </Checkbox.Group>
          )}
        <Group grow align="flex-end">
          <Select label="Compare" data={OPS} value={op} onChange={(v) => setOp(v ?? 'equals')} allowDeselect={false} />
          <Stack gap={2}>
            <Text size="sm" fw={500}>Where</Text>
            <SegmentedControl value={scope} onChange={(v) => setScope(v as 'host' | 'tenant')}
              data={[{ value: 'host', label: `This host (${hostLabel(hosts, alert.host_id)})` }, { value: 'tenant', label: 'Every host' }]} />
          </Stack>
        </Group>
        <TextInput type="datetime-local" label="Expires (optional)" value={expires} onChange={(e) => setExpires(e.currentTarget.value)} w={240} />
        <Callout color="violet" title="What this exception does" data-testid="exception-explain">
          <Text size="sm">
            From now on, a new alert of <b>{alert.rule.title}</b> {where}
            {fields.length ? <> whose {fields.map((f, i) => (
              <span key={f}>{i ? ' and ' : ''}<Code>{f}</Code> {opLabel(op)} <Code>{fieldValue(event, f)}</Code></span>
            ))}</> : candidates.length ? <b> (any alert of this rule: tick a field to narrow it)</b> : null}
            {' '}is stored as <b>excepted</b>: it leaves the open list, is not sent to alert sinks or the live feed, and stays
            searchable (status "excepted"). Alerts already stored, this one included, do not change.
            {expires ? ` It stops applying at ${new Date(expires).toLocaleString()}.` : ' It applies until someone removes it.'}
          </Text>
        </Callout>
        <Textarea label="Reason" required autosize minRows={2} value={reason} onChange={(e) => setReason(e.currentTarget.value)} />
        {create.isError && <ErrorState error={create.error} what="Exception" />}
        <Group justify="flex-end">
          <Button variant="default" onClick={close}>Cancel</Button>
          <Button color="violet" disabled={!reason.trim()} loading={create.isPending}
            onClick={() => create.mutate(undefined, { onSuccess: () => { setFields([]); setReason(''); setExpires(''); close(); } })}>Create exception</Button>
        </Group>
      </Stack>
    </Modal>
  );
}
