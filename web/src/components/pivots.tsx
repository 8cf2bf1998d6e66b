// Pivots: every process, file, user, hash and address the console shows is a menu of where to go next — the
// process page, the host timeline filtered on it, the alerts about it, or a hunt prefilled with a query.

import type { ReactNode } from 'react';
import { Menu, Text, UnstyledButton } from '@mantine/core';
import { Link } from 'react-router';

/** A SQL string literal (ClickHouse: backslash and quote escaped). */
export function sqlString(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

// Ports are 0 where an event has none: shown empty rather than as a misleading 0.
const HUNT_COLUMNS = 'timestamp, hostname, event_type, process_pid, process_executable, process_command_line, user_name, file_path, destination_ip,\n  if(destination_port = 0, \'\', toString(destination_port)) AS destination_port';

/** A hunt over telemetry_events with `where`, newest first. */
export function huntSql(where: string, hostId?: string): string {
  const host = hostId ? `\n  AND host_id = ${sqlString(hostId)}` : '';
  return `SELECT ${HUNT_COLUMNS}\nFROM telemetry_events\nWHERE ${where}${host}\nORDER BY timestamp DESC\nLIMIT 500`;
}

export function huntUrl(sql: string): string {
  return `/hunt?${new URLSearchParams({ sql, run: '1' }).toString()}`;
}

export function processUrl(hostId: string, entityId: string): string {
  return `/hosts/${encodeURIComponent(hostId)}/processes/${encodeURIComponent(entityId)}`;
}

/** The host timeline with filters (type, process entity, text, from, to). */
export function timelineUrl(hostId: string, f: Record<string, string | undefined>): string {
  const p = new URLSearchParams({ tab: 'timeline' });
  for (const [k, v] of Object.entries(f)) if (v) p.set(k, v);
  return `/hosts/${encodeURIComponent(hostId)}?${p.toString()}`;
}

/** The alert list filtered (`user=`, `file=`, `hash=`, `process_entity_id=`, …). */
export function alertsUrl(f: Record<string, string>): string {
  return `/alerts?${new URLSearchParams(f).toString()}`;
}

export type PivotKind = 'file' | 'user' | 'hash' | 'address' | 'process';

interface PivotProps {
  kind: PivotKind;
  value: string;
  hostId?: string;
  /** For a process: its entity id (the value is what is displayed). */
  entityId?: string;
  children?: ReactNode;
  mono?: boolean;
}

function targetsOf({ kind, value, hostId, entityId }: PivotProps): { label: string; to: string }[] {
  const out: { label: string; to: string }[] = [];
  const hunt = (label: string, where: string) => {
    out.push({ label: `Hunt: ${label} on all hosts`, to: huntUrl(huntSql(where)) });
    if (hostId) out.push({ label: `Hunt: ${label} on this host`, to: huntUrl(huntSql(where, hostId)) });
  };
  switch (kind) {
    case 'process':
      if (hostId && entityId) {
        out.push({ label: 'Open the process page', to: processUrl(hostId, entityId) });
        out.push({ label: 'Timeline of this process', to: timelineUrl(hostId, { process: entityId }) });
        out.push({ label: 'Alerts about this', to: alertsUrl({ process_entity_id: entityId }) });
        hunt('events of this process', `process_entity_id = ${sqlString(entityId)}`);
      }
      break;
    case 'file':
      out.push({ label: 'Alerts about this', to: alertsUrl({ file: value }) });
      if (hostId) out.push({ label: 'Timeline of this host, this path', to: timelineUrl(hostId, { q: value }) });
      hunt('events with this path', `file_path = ${sqlString(value)}`);
      break;
    case 'user':
      out.push({ label: 'Alerts about this', to: alertsUrl({ user: value }) });
      hunt('events of this user', `user_name = ${sqlString(value)}`);
      break;
    case 'hash':
      if (/^[0-9a-fA-F]{64}$/.test(value)) out.push({ label: 'Alerts about this', to: alertsUrl({ hash: value }) });
      hunt('processes with this SHA-256', `JSONExtractString(raw, 'process', 'hash', 'sha256') = ${sqlString(value)}`);
      break;
    case 'address':
      hunt('connections with this address', `(destination_ip = ${sqlString(value)} OR source_ip = ${sqlString(value)})`);
      break;
  }
  return out;
}

/** A value that opens a menu of pivots. */
export function Pivot(props: PivotProps) {
  const targets = targetsOf(props);
  const shown = props.children ?? props.value;
  if (!targets.length) return <Text span inherit ff={props.mono ? 'monospace' : undefined}>{shown}</Text>;
  return (
    <Menu position="bottom-start" withinPortal shadow="md">
      <Menu.Target>
        <UnstyledButton data-pivot={props.kind} title={`${props.value} — pivot`}
          style={{ color: 'var(--mantine-color-anchor)', fontFamily: props.mono ? 'var(--mantine-font-family-monospace)' : undefined,
            fontSize: 'inherit', wordBreak: 'break-all', textAlign: 'left', display: 'inline' }}>
          {shown}
        </UnstyledButton>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>{props.kind}: {props.value.length > 60 ? `${props.value.slice(0, 60)}…` : props.value}</Menu.Label>
        {targets.map((t) => <Menu.Item key={t.label} component={Link} to={t.to}>{t.label}</Menu.Item>)}
      </Menu.Dropdown>
    </Menu>
  );
}
