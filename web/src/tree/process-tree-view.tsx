// The process tree of a host as a virtualised list (thousands of nodes stay fast): expand/collapse, search,
// alerted processes highlighted, keyboard navigation (↑ ↓ move, ← → collapse/expand, Enter opens details).

import { useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { Badge, Box, Group, Text, UnstyledButton } from '@mantine/core';
import { useVirtualizer } from '@tanstack/react-virtual';
import type { ProcessNode } from '../api/types.ts';
import { visibleRows, type TreeRow } from './visible-rows.ts';

const ROW_HEIGHT = 28;

function basename(path: string): string { return path.slice(path.lastIndexOf('/') + 1) || path; }

interface RowProps { row: TreeRow; selected: boolean; alerted: boolean; onToggle: (id: string) => void; onSelect: (id: string) => void }

function Row({ row, selected, alerted, onToggle, onSelect }: RowProps) {
  const { node, depth, hasChildren, collapsed } = row;
  return (
    <Group gap={6} wrap="nowrap" h={ROW_HEIGHT} pl={depth * 16 + 4} pr="xs" data-entity-id={node.entity_id} role="treeitem"
      aria-level={depth + 1} aria-selected={selected} aria-expanded={hasChildren ? !collapsed : undefined}
      onClick={() => onSelect(node.entity_id)}
      style={{ cursor: 'pointer', borderRadius: 4,
        background: selected ? 'var(--mantine-primary-color-light)' : alerted ? 'var(--mantine-color-red-light)' : undefined }}>
      <UnstyledButton w={16} tabIndex={-1} aria-label={collapsed ? 'expand' : 'collapse'} style={{ visibility: hasChildren ? 'visible' : 'hidden' }}
        onClick={(e) => { e.stopPropagation(); onToggle(node.entity_id); }}>{collapsed ? '▸' : '▾'}</UnstyledButton>
      <Text size="sm" ff="monospace" c="dimmed" w={64} style={{ flexShrink: 0 }}>{node.pid}</Text>
      <Text size="sm" fw={600} style={{ flexShrink: 0 }} td={node.exit_ts ? 'line-through' : undefined}>{basename(node.exe)}</Text>
      <Text size="sm" ff="monospace" c="dimmed" truncate="end" style={{ minWidth: 0, flex: 1 }}>{node.cmdline}</Text>
      {node.user_name && <Text size="xs" c="dimmed">{node.user_name}</Text>}
      {alerted && <Badge size="xs" color="red">alert</Badge>}
      {node.mitre.slice(0, 2).map((t) => <Badge key={t} size="xs" variant="outline">{t}</Badge>)}
    </Group>
  );
}

interface Props {
  roots: ProcessNode[];
  search: string;
  alerted: ReadonlySet<string>;
  selected: string | null;
  onSelect: (entityId: string | null) => void;
  onOpen: (entityId: string) => void;
}

export function ProcessTreeView({ roots, search, alerted, selected, onSelect, onOpen }: Props) {
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(() => new Set());
  const rows = useMemo(() => visibleRows(roots, collapsed, search), [roots, collapsed, search]);
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({ count: rows.length, getScrollElement: () => scrollRef.current, estimateSize: () => ROW_HEIGHT, overscan: 15 });

  const toggle = (id: string, open?: boolean) => setCollapsed((prev) => {
    const next = new Set(prev);
    if (open ?? next.has(id)) next.delete(id); else next.add(id);
    return next;
  });
  const select = (id: string) => { onSelect(id); onOpen(id); };

  const onKey = (e: KeyboardEvent) => {
    const at = rows.findIndex((r) => r.node.entity_id === selected);
    const move = (i: number) => { const r = rows[Math.max(0, Math.min(rows.length - 1, i))]; if (r) { onSelect(r.node.entity_id); virtualizer.scrollToIndex(rows.indexOf(r)); } };
    const handled: Record<string, () => void> = {
      ArrowDown: () => move(at + 1), ArrowUp: () => move(at < 0 ? 0 : at - 1),
      ArrowLeft: () => { if (selected) toggle(selected, false); }, ArrowRight: () => { if (selected) toggle(selected, true); },
      Enter: () => { if (selected) onOpen(selected); },
    };
    if (handled[e.key]) { e.preventDefault(); handled[e.key](); }
  };

  return (
    <Box ref={scrollRef} tabIndex={0} role="tree" aria-label="Process tree" onKeyDown={onKey} data-rows={rows.length}
      h="calc(100vh - 260px)" mih={300} style={{ overflow: 'auto', outlineOffset: 2 }}>
      <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
        {virtualizer.getVirtualItems().map((v) => {
          const row = rows[v.index];
          return (
            <div key={row.node.entity_id} style={{ position: 'absolute', top: 0, left: 0, right: 0, transform: `translateY(${v.start}px)` }}>
              <Row row={row} selected={row.node.entity_id === selected} alerted={alerted.has(row.node.entity_id)} onToggle={toggle} onSelect={select} />
            </div>
          );
        })}
      </div>
    </Box>
  );
}
