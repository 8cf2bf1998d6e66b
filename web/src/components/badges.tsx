// Coloured badges for the values analysts scan for: alert severity, alert status, host status.

import { Badge } from '@mantine/core';
import type { AlertStatus, Severity } from '../api/types.ts';

export const SEVERITY_COLOURS: Record<string, string> = { informational: 'gray', low: 'blue', medium: 'yellow', high: 'orange', critical: 'red' };
/** Severity rank for sorting, lowest first. */
export const LEVEL_ORDER: Record<string, number> = { informational: 0, low: 1, medium: 2, high: 3, critical: 4 };
/** A badge's label keeps its full width: a flex item with overflow hidden would let a table column shrink it to "INFORMATI…". */
export const NO_ELLIPSIS = { label: { overflow: 'visible' } } as const;
const STATUS_COLOURS: Record<string, string> = { open: 'red', acknowledged: 'yellow', closed: 'gray', excepted: 'violet', suppressed: 'violet', investigating: 'yellow' };

export function SeverityBadge({ level }: { level: Severity | string }) {
  return <Badge color={SEVERITY_COLOURS[level] ?? 'gray'} variant="light" style={{ flexShrink: 0, maxWidth: 'none', overflow: 'visible' }} styles={NO_ELLIPSIS}>{level}</Badge>;
}

/** An alert's (or incident's) status; with `count`, how many alerts have it. */
export function AlertStatusBadge({ status, count }: { status: AlertStatus | string; count?: number }) {
  return <Badge color={STATUS_COLOURS[status] ?? 'gray'} variant="outline" style={{ flexShrink: 0, maxWidth: 'none', overflow: 'visible' }} styles={NO_ELLIPSIS}>{count !== undefined ? `${count} ` : ''}{status}</Badge>;
}

export function HostStatusBadge({ status }: { status: 'online' | 'offline' }) {
  return <Badge color={status === 'online' ? 'green' : 'gray'} variant="dot">{status}</Badge>;
}

const COVERAGE: Record<string, { colour: string; label: string }> = {
  collected: { colour: 'green', label: 'collected' },
  partial: { colour: 'yellow', label: 'partial' },
  not_collected: { colour: 'red', label: 'not collected' },
};

/** Whether Vigil collects the events a rule needs (collected | partial | not_collected); the reason in its tooltip. */
export function CoverageBadge({ coverage, reason }: { coverage: string; reason?: string }) {
  const c = COVERAGE[coverage] ?? { colour: 'gray', label: coverage };
  return <Badge color={c.colour} variant="light" title={reason} data-coverage={coverage} style={{ flexShrink: 0, maxWidth: 'none', overflow: 'visible' }} styles={NO_ELLIPSIS}>{c.label}</Badge>;
}
