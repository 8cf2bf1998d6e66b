// A process's details in a side drawer: identity, command line, user, hashes, MITRE/GTFOBins tags, and its
// network and file activity from the events of that process entity.

import type { ReactNode } from 'react';
import { Anchor, Box, Code, Drawer, Group, Stack, Table, Text, Title } from '@mantine/core';
import { Link } from 'react-router';
import { Pivot, processUrl } from '../components/pivots.tsx';
import { useEvents } from '../api/queries.ts';
import type { ProcessNode, VigilEvent } from '../api/types.ts';
import { formatTime } from '../components/format.ts';
import { QueryState } from '../components/query-state.tsx';

function Field({ label, children }: { label: string; children: ReactNode }) {
  return <Group gap="xs" wrap="nowrap" align="flex-start"><Text size="sm" c="dimmed" w={110} style={{ flexShrink: 0 }}>{label}</Text><Box fz="sm" style={{ minWidth: 0, wordBreak: 'break-all' }}>{children}</Box></Group>;
}

function activityOf(e: VigilEvent): string {
  if (e.dns?.question?.name) return `DNS ${e.dns.type ?? ''} ${e.dns.question.name} ${e.dns.question.type ?? ''}${e.dns.resolved_ip?.length ? ` → ${e.dns.resolved_ip.join(', ')}` : ''}`;
  if (e.destination?.ip) return `${e.destination.ip}:${e.destination.port ?? ''}`;
  if (e.file?.path) return e.file.path;
  return e.process?.command_line ?? '';
}

function Activity({ hostId, node }: { hostId: string; node: ProcessNode }) {
  // The events of this process entity (GET /events?process_entity_id=, filtered by the server).
  const events = useEvents({ host: hostId, process_entity_id: node.entity_id, limit: 500 });
  return (
    <QueryState query={events} what="Activity">
      {(d) => {
        const own = d.events;
        if (!own.length) return <Text size="sm" c="dimmed">No recorded events for this process.</Text>;
        return (
          <Table fz="xs" aria-label="Process activity">
            <Table.Tbody>
              {own.map((e) => (
                <Table.Tr key={e.event.id}>
                  <Table.Td>{formatTime(e['@timestamp'])}</Table.Td><Table.Td>{e.event.type}</Table.Td>
                  <Table.Td style={{ wordBreak: 'break-all' }}>{!e.destination?.ip && e.file?.path ? <Pivot kind="file" value={e.file.path} hostId={hostId} mono /> : activityOf(e)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        );
      }}
    </QueryState>
  );
}

export function ProcessDetails({ hostId, node, onClose }: { hostId: string; node: ProcessNode | null; onClose: () => void }) {
  return (
    <Drawer opened={node !== null} onClose={onClose} position="right" size="lg" title={node ? `Process ${node.pid}` : ''}>
      {node && (
        <Stack gap="xs" data-testid="process-details">
          <Anchor component={Link} to={processUrl(hostId, node.entity_id)} fw={600}>Open the process page (lineage, children, alerts, response)</Anchor>
          <Field label="Executable">{node.exe}</Field>
          <Field label="Command line"><Code block style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>{node.cmdline}</Code></Field>
          <Field label="PID / PPID">{node.pid} / {node.ppid}</Field>
          <Field label="User">{node.user_name ? <Pivot kind="user" value={node.user_name} hostId={hostId} /> : '—'} (uid {node.uid}, gid {node.gid})</Field>
          <Field label="Started">{formatTime(node.start_ts)}</Field>
          <Field label="Exited">{node.exit_ts ? `${formatTime(node.exit_ts)} (code ${node.exit_code ?? '?'})` : 'running'}</Field>
          <Field label="SHA-256">{node.sha256 ? <Pivot kind="hash" value={node.sha256} hostId={hostId} mono /> : '—'}</Field>
          <Field label="MITRE">{node.mitre.length ? node.mitre.map((t) => <Anchor key={t} href={`https://attack.mitre.org/techniques/${t.replace('.', '/')}/`} target="_blank" mr="xs">{t}</Anchor>) : '—'}</Field>
          <Field label="GTFOBins">{node.gtfobins.join(', ') || '—'}</Field>
          <Field label="Entity id"><Code>{node.entity_id}</Code></Field>
          <Title order={5} mt="md">Network and file activity</Title>
          <Activity hostId={hostId} node={node} />
        </Stack>
      )}
    </Drawer>
  );
}
