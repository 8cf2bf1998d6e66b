// A process lineage drawn as a vertical chain, root first: each node shows its executable, command line,
// user, PID and start/exit, and links to its process page. The process of interest is highlighted.

import { Anchor, Badge, Box, Code, Group, Stack, Text } from '@mantine/core';
import { Link } from 'react-router';
import type { ProcessSummary } from '../api/types.ts';
import { formatTime } from './format.ts';
import { Pivot, processUrl } from './pivots.tsx';

export function basename(path: string): string { return path.slice(path.lastIndexOf('/') + 1) || path; }

function userOf(p: ProcessSummary): string {
  if (p.user_name && p.user_id && p.user_name !== p.user_id) return `${p.user_name} (uid ${p.user_id})`;
  return p.user_name || (p.user_id ? `uid ${p.user_id}` : '—');
}

export function ProcessCard({ hostId, p, focus, note }: { hostId: string; p: ProcessSummary; focus?: boolean; note?: string }) {
  return (
    <Box p="xs" data-entity-id={p.entity_id} data-testid={focus ? 'lineage-focus' : 'lineage-node'}
      style={{ border: `1px solid ${focus ? 'var(--mantine-color-red-5)' : 'var(--mantine-color-default-border)'}`, borderRadius: 6,
        background: focus ? 'var(--mantine-color-red-light)' : undefined, minWidth: 0 }}>
      <Group gap="xs" wrap="nowrap" justify="space-between" align="flex-start">
        <Group gap="xs" wrap="wrap" style={{ minWidth: 0 }}>
          <Anchor component={Link} to={processUrl(hostId, p.entity_id)} fw={700} title={`Open process ${p.pid}`}>
            {basename(p.executable) || '(unknown executable)'}
          </Anchor>
          <Text size="xs" c="dimmed" ff="monospace" style={{ wordBreak: 'break-all' }}>{p.executable}</Text>
          {focus && <Badge size="sm" color="red" variant="filled">{note ?? 'alerting process'}</Badge>}
        </Group>
        <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>pid {p.pid}{p.ppid ? ` · ppid ${p.ppid}` : ''}</Text>
      </Group>
      {p.command_line && <Code block mt={4} style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>{p.command_line}</Code>}
      <Group gap="md" mt={4}>
        <Text size="xs"><Text span c="dimmed" inherit>user </Text>
          {p.user_name ? <Pivot kind="user" value={p.user_name} hostId={hostId}>{userOf(p)}</Pivot> : userOf(p)}</Text>
        <Text size="xs"><Text span c="dimmed" inherit>started </Text>{formatTime(p.start)}</Text>
        <Text size="xs"><Text span c="dimmed" inherit>exited </Text>{p.exit ? formatTime(p.exit) : 'still running (or exit not reported)'}</Text>
      </Group>
    </Box>
  );
}

/** Root first, `focus` last; a connector between nodes shows the parent → child direction. */
export function LineageChain({ hostId, ancestors, focus, focusNote, label = 'Process lineage' }:
  { hostId: string; ancestors: ProcessSummary[]; focus?: ProcessSummary; focusNote?: string; label?: string }) {
  const chain = focus ? [...ancestors, focus] : ancestors;
  return (
    <Stack gap={0} aria-label={label} role="list">
      {chain.map((p, i) => (
        <Box key={`${p.entity_id}-${i}`} role="listitem" pl={Math.min(i, 8) * 14}>
          {i > 0 && <Text size="xs" c="dimmed" ff="monospace" pl={4} aria-hidden>└─ started</Text>}
          <ProcessCard hostId={hostId} p={p} focus={focus !== undefined && i === chain.length - 1} note={focusNote} />
        </Box>
      ))}
    </Stack>
  );
}
