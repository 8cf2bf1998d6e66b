// Alert sinks: where the tenant's alerts go (syslog, e-mail, webhook, Slack, Teams, PagerDuty, stdout), each with
// its health (breaker, last success, last error, queue depth, dead letters), create and edit (type, target, format,
// filters, template, secret: written, never shown), test (a sample alert sent now), the sink's latest deliveries,
// replay of dead letters, delete. GET/POST/PATCH/DELETE /alert-sinks, POST …/test, …/replay, GET …/deliveries.

import { useState, type FormEvent } from 'react';
import { Alert, Anchor, Badge, Button, Code, Drawer, Group, Modal, NumberInput, PasswordInput, Select, Stack, Switch, Table, TagsInput, Text, TextInput, Textarea, Title, Tooltip } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api } from '../api/client.ts';
import { FORMATS, SINK_TYPES, useSinkDeliveries, useSinks, type AlertSink, type SinkType } from '../api/alert-sinks.ts';
import { useApiAction } from '../api/queries.ts';
import { BreakerBadge, DeliveryStateBadge } from '../components/delivery-badges.tsx';
import { formatAgo, formatTime } from '../components/format.ts';
import { ErrorState, QueryState } from '../components/query-state.tsx';

const TYPE_LABELS: Record<SinkType, string> = {
  webhook: 'Webhook (signed JSON)', syslog: 'Syslog (RFC 5424)', email: 'E-mail (SMTP)', slack: 'Slack', teams: 'Microsoft Teams', pagerduty: 'PagerDuty Events v2', stdout: 'Standard output',
};
const FORMAT_LABELS: Record<string, string> = { vigil: 'Vigil JSON', ecs: 'Elastic Common Schema', ocsf: 'OCSF Detection Finding', cef: 'ArcSight CEF', text: 'Text (template)' };
const URL_HINTS: Record<SinkType, string> = {
  webhook: 'https://siem.example.com/hook', syslog: 'tls://siem.example.com:6514 (or udp:// tcp://)', email: 'smtp://mail.example.com:587 (or smtps://…:465)',
  slack: 'https://hooks.slack.com/services/…', teams: 'https://….webhook.office.com/…', pagerduty: 'https://events.pagerduty.com/v2/enqueue (default)', stdout: '',
};
const SECRET_LABELS: Partial<Record<SinkType, string>> = { webhook: 'HMAC secret (optional, 16+ characters)', email: 'SMTP password', pagerduty: 'Routing key' };
const SEVERITIES = ['informational', 'low', 'medium', 'high', 'critical'];

interface Form {
  type: SinkType; name: string; url: string; format: string; secret: string; enabled: boolean; template: string;
  minSeverity: string | null; tactics: string[]; ruleTags: string[]; from: string; to: string[]; username: string; caPem: string; rate: number | string;
  repeatWindow: number | string;
}

const formOf = (s?: AlertSink): Form => ({
  type: s?.type ?? 'webhook', name: s?.name ?? '', url: s && s.type !== 'stdout' ? s.url : '', format: s?.format ?? 'vigil', secret: '', enabled: s?.enabled ?? true,
  template: s?.template ?? '', minSeverity: s?.filters.min_severity ?? null, tactics: s?.filters.mitre_tactics ?? [], ruleTags: s?.filters.rule_tags ?? [],
  from: s?.options.from ?? '', to: s?.options.to ?? [], username: s?.options.username ?? '', caPem: s?.options.ca_pem ?? '', rate: s?.options.rate_per_minute ?? '',
  repeatWindow: s?.options.repeat_window_s ?? '',
});

/** The request body of a form: what the sink's type takes, empty fields left out. */
function bodyOf(f: Form, editing: boolean): Record<string, unknown> {
  const options = {
    ...(f.type === 'email' ? { from: f.from || undefined, to: f.to.length ? f.to : undefined, username: f.username || undefined } : {}),
    ...((f.type === 'email' || f.type === 'syslog') && f.caPem.trim() ? { ca_pem: f.caPem.trim() } : {}),
    ...(f.rate !== '' ? { rate_per_minute: Number(f.rate) } : {}),
    ...(f.repeatWindow !== '' ? { repeat_window_s: Number(f.repeatWindow) } : {}),
  };
  const filters = {
    ...(f.minSeverity ? { min_severity: f.minSeverity } : {}), ...(f.tactics.length ? { mitre_tactics: f.tactics } : {}), ...(f.ruleTags.length ? { rule_tags: f.ruleTags } : {}),
  };
  return {
    name: f.name, ...(editing ? {} : { type: f.type }), ...(f.type === 'stdout' || !f.url ? {} : { url: f.url }), format: f.format, filters,
    template: f.template.trim() ? f.template : null, options: JSON.parse(JSON.stringify(options)), enabled: f.enabled, ...(f.secret ? { secret: f.secret } : {}),
  };
}

function SinkDialog({ sink, onClose }: { sink?: AlertSink; onClose: () => void }) {
  const [f, setF] = useState<Form>(formOf(sink));
  const set = (p: Partial<Form>) => setF((old) => ({ ...old, ...p }));
  const client = useQueryClient();
  const save = useMutation({
    mutationFn: () => api(sink ? `/alert-sinks/${encodeURIComponent(sink.id)}` : '/alert-sinks', { method: sink ? 'PATCH' : 'POST', body: bodyOf(f, !!sink) }),
    onSuccess: async () => { await client.invalidateQueries({ queryKey: ['alert-sinks'] }); onClose(); },
  });
  const submit = (e: FormEvent) => { e.preventDefault(); save.mutate(); };
  const humanReadable = f.format === 'text' || ['email', 'slack', 'teams', 'pagerduty'].includes(f.type);
  return (
    <Modal opened onClose={onClose} title={sink ? `Edit alert sink ${sink.name}` : 'Add an alert sink'} size="lg">
      <form onSubmit={submit}>
        <Stack>
          <Group grow>
            <Select label="Type" data={SINK_TYPES.map((t) => ({ value: t, label: TYPE_LABELS[t] }))} value={f.type} disabled={!!sink} allowDeselect={false}
              onChange={(v) => { const type = (v ?? 'webhook') as SinkType; set({ type, format: FORMATS[type][0] }); }} />
            <TextInput label="Name" required value={f.name} onChange={(e) => set({ name: e.currentTarget.value })} />
          </Group>
          {f.type !== 'stdout' && (
            <TextInput label="Target URL" required={f.type !== 'pagerduty'} placeholder={URL_HINTS[f.type]} value={f.url} onChange={(e) => set({ url: e.currentTarget.value })} />
          )}
          <Group grow>
            <Select label="Format" data={FORMATS[f.type].map((v) => ({ value: v, label: FORMAT_LABELS[v] }))} value={f.format} allowDeselect={false} onChange={(v) => set({ format: v ?? FORMATS[f.type][0] })} />
            <NumberInput label="Rate limit (deliveries per minute)" placeholder="600" min={1} max={100000} value={f.rate} onChange={(v) => set({ rate: v })} />
            <NumberInput label="Repeat window (s)" description="A rule's repeats on a host within it are not sent again" placeholder="300" min={0} max={86400} value={f.repeatWindow} onChange={(v) => set({ repeatWindow: v })} />
          </Group>
          {SECRET_LABELS[f.type] && (
            <PasswordInput label={SECRET_LABELS[f.type]} description={sink?.has_secret ? 'Set: leave empty to keep it, or type a new one.' : 'Stored encrypted; never shown again.'}
              value={f.secret} onChange={(e) => set({ secret: e.currentTarget.value })} />
          )}
          {f.type === 'email' && (
            <>
              <Group grow>
                <TextInput label="From" required type="email" value={f.from} onChange={(e) => set({ from: e.currentTarget.value })} />
                <TextInput label="SMTP user" value={f.username} onChange={(e) => set({ username: e.currentTarget.value })} />
              </Group>
              <TagsInput label="To" required placeholder="soc@example.com, Enter" value={f.to} onChange={(to) => set({ to })} />
            </>
          )}
          {(f.type === 'email' || (f.type === 'syslog' && f.url.startsWith('tls:'))) && (
            <Textarea label="Trusted CA (PEM, optional)" description="For a server whose certificate a private CA signed." autosize minRows={2} maxRows={6} value={f.caPem} onChange={(e) => set({ caPem: e.currentTarget.value })} />
          )}
          <Title order={5}>Filters</Title>
          <Group grow align="flex-start">
            <Select label="Minimum severity" clearable placeholder="any" data={SEVERITIES} value={f.minSeverity} onChange={(v) => set({ minSeverity: v })} />
            <TagsInput label="MITRE tactics (any of)" placeholder="Execution, Enter" value={f.tactics} onChange={(tactics) => set({ tactics })} />
            <TagsInput label="Rule tags (any of)" placeholder="attack.t1059, Enter" value={f.ruleTags} onChange={(ruleTags) => set({ ruleTags })} />
          </Group>
          {humanReadable && (
            <TextInput label="Template" placeholder="[{{level}}] {{rule.title}} on {{host}} (user {{user}}): {{command_line}}" value={f.template} onChange={(e) => set({ template: e.currentTarget.value })}
              description="Fields: {{rule.title}} {{rule.id}} {{level}} {{host}} {{user}} {{command_line}} {{file.path}} {{destination}} {{techniques}} {{tactics}} …" />
          )}
          <Switch label="Enabled" checked={f.enabled} onChange={(e) => set({ enabled: e.currentTarget.checked })} />
          {save.isError && <ErrorState error={save.error} what="Alert sink" />}
          <Group justify="flex-end"><Button variant="default" onClick={onClose}>Cancel</Button><Button type="submit" loading={save.isPending}>{sink ? 'Save' : 'Add alert sink'}</Button></Group>
        </Stack>
      </form>
    </Modal>
  );
}

function DeliveriesDrawer({ sink, onClose }: { sink: AlertSink; onClose: () => void }) {
  const deliveries = useSinkDeliveries(sink.id);
  return (
    <Drawer opened onClose={onClose} position="right" size="xl" title={`Latest deliveries to ${sink.name}`}>
      <QueryState query={deliveries} what="Deliveries" isEmpty={(d) => d.deliveries.length === 0} empty="No alert has been queued for this sink yet.">
        {(d) => (
          <Table fz="sm" aria-label="Sink deliveries">
            <Table.Thead><Table.Tr><Table.Th>Alert</Table.Th><Table.Th>State</Table.Th><Table.Th>Attempts</Table.Th><Table.Th>Queued</Table.Th><Table.Th>Last error</Table.Th></Table.Tr></Table.Thead>
            <Table.Tbody>{d.deliveries.map((x) => (
              <Table.Tr key={x.id}>
                <Table.Td>
                  <Anchor component={Link} size="sm" to={`/alerts/${encodeURIComponent(x.alert_id)}`}>{x.alert_title || 'Alert'}</Anchor>
                  {x.host_name && <Text span size="xs" c="dimmed"> on {x.host_name}</Text>}
                </Table.Td>
                <Table.Td><DeliveryStateBadge d={x} /></Table.Td><Table.Td>{x.attempts}</Table.Td><Table.Td>{formatTime(x.created_at)}</Table.Td>
                <Table.Td><Text size="xs" c={x.last_error ? 'red' : 'dimmed'}>{x.last_error ?? '—'}</Text></Table.Td>
              </Table.Tr>
            ))}</Table.Tbody>
          </Table>
        )}
      </QueryState>
    </Drawer>
  );
}

function Health({ s }: { s: AlertSink }) {
  const h = s.health;
  return (
    <Stack gap={2}>
      <Group gap={4}><BreakerBadge health={h} />{!s.enabled && <Badge color="gray" variant="outline">disabled</Badge>}</Group>
      <Text size="xs" c="dimmed">Last success: {h.last_success_at ? formatAgo(h.last_success_at) : 'never'}</Text>
      {h.last_error && <Tooltip label={h.last_error} multiline w={360}><Text size="xs" c="red" lineClamp={1} maw={260}>Last error {formatAgo(h.last_error_at)}: {h.last_error}</Text></Tooltip>}
      <Text size="xs" c="dimmed" data-testid="queue">Queued {h.queued} · dead letters {h.dead}</Text>
    </Stack>
  );
}

const filtersText = (s: AlertSink) => [
  s.filters.min_severity && `≥ ${s.filters.min_severity}`, s.filters.mitre_tactics?.length && `tactics: ${s.filters.mitre_tactics.join(', ')}`,
  s.filters.rule_tags?.length && `tags: ${s.filters.rule_tags.join(', ')}`,
].filter(Boolean).join('; ') || 'every alert';

export function AlertSinksPage() {
  const sinks = useSinks();
  const [editing, setEditing] = useState<AlertSink | 'new' | null>(null);
  const [viewing, setViewing] = useState<AlertSink | null>(null);
  const [tested, setTested] = useState<{ name: string; ok: boolean; ms: number; error?: string } | null>(null);
  const test = useMutation({ mutationFn: async (s: AlertSink) => ({ name: s.name, ...(await api<{ ok: boolean; ms: number; error?: string }>(`/alert-sinks/${encodeURIComponent(s.id)}/test`, { method: 'POST', body: {} })) }), onSuccess: setTested });
  const replay = useApiAction((id: string) => ({ path: `/alert-sinks/${encodeURIComponent(id)}/replay`, body: {} }), ['alert-sinks']);
  const remove = useApiAction((id: string) => ({ path: `/alert-sinks/${encodeURIComponent(id)}`, method: 'DELETE' }), ['alert-sinks']);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Alert sinks</Title>
        <Button onClick={() => setEditing('new')}>Add alert sink</Button>
      </Group>
      <Text size="sm" c="dimmed">Every new alert of this tenant is queued durably for each enabled sink whose filters it passes, retried with backoff, and kept as a dead letter after the last attempt.</Text>
      {tested && (
        <Alert color={tested.ok ? 'green' : 'red'} withCloseButton onClose={() => setTested(null)} title={tested.ok ? `Test alert delivered to ${tested.name}` : `Test alert to ${tested.name} failed`} data-testid="test-result">
          {tested.ok ? `in ${tested.ms} ms` : tested.error}
        </Alert>
      )}
      <QueryState query={sinks} what="Alert sinks" isEmpty={(d) => d.alert_sinks.length === 0} empty="No alert sinks yet: alerts stay in the console.">
        {(d) => (
          <Table fz="sm" aria-label="Alert sinks" verticalSpacing="xs">
            <Table.Thead><Table.Tr><Table.Th>Name</Table.Th><Table.Th>Type</Table.Th><Table.Th>Target</Table.Th><Table.Th>Format</Table.Th><Table.Th>Filters</Table.Th><Table.Th>Health</Table.Th><Table.Th /></Table.Tr></Table.Thead>
            <Table.Tbody>{d.alert_sinks.map((s) => (
              <Table.Tr key={s.id} data-sink={s.name}>
                <Table.Td><Text size="sm" fw={500}>{s.name}</Text>{s.has_secret && <Text size="xs" c="dimmed">secret set</Text>}</Table.Td>
                <Table.Td>{TYPE_LABELS[s.type]}</Table.Td>
                <Table.Td><Code style={{ wordBreak: 'break-all' }}>{s.type === 'stdout' ? 'stdout' : s.url}</Code></Table.Td>
                <Table.Td>{FORMAT_LABELS[s.format]}</Table.Td>
                <Table.Td><Text size="xs">{filtersText(s)}</Text></Table.Td>
                <Table.Td><Health s={s} /></Table.Td>
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    <Button size="xs" variant="light" loading={test.isPending && test.variables?.id === s.id} onClick={() => test.mutate(s)}>Test</Button>
                    <Button size="xs" variant="subtle" onClick={() => setEditing(s)}>Edit</Button>
                    <Button size="xs" variant="subtle" onClick={() => setViewing(s)}>Deliveries</Button>
                    {s.health.dead > 0 && <Button size="xs" variant="subtle" color="orange" onClick={() => replay.mutate(s.id)}>Replay {s.health.dead}</Button>}
                    <Button size="xs" variant="subtle" color="red" onClick={() => { if (confirm(`Delete alert sink ${s.name}? Its queued deliveries go with it.`)) remove.mutate(s.id); }}>Delete</Button>
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}</Table.Tbody>
          </Table>
        )}
      </QueryState>
      {(remove.isError || replay.isError || test.isError) && <ErrorState error={remove.error ?? replay.error ?? test.error} what="Alert sink" />}
      {editing && <SinkDialog sink={editing === 'new' ? undefined : editing} onClose={() => setEditing(null)} />}
      {viewing && <DeliveriesDrawer sink={viewing} onClose={() => setViewing(null)} />}
    </Stack>
  );
}
