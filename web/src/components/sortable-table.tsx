// A table whose column headers sort it (click or Enter/Space; again to reverse); rows may open on click
// or Enter. Used by lists where analysts sort by status, time or counts.

import { useMemo, useState, type ReactNode } from 'react';
import { ScrollArea, Table, UnstyledButton } from '@mantine/core';

export interface Column<T> {
  key: string;
  label: string;
  render: (row: T) => ReactNode;
  /** The value the column sorts by; columns without it do not sort. */
  sortValue?: (row: T) => string | number;
  /** Lets long text wrap; other cells (badges, times, buttons) stay on one line. */
  wrap?: boolean;
}

interface Props<T> {
  rows: T[];
  columns: Column<T>[];
  rowKey: (row: T) => string;
  onOpen?: (row: T) => void;
  initialSort?: { key: string; desc: boolean };
  label: string;
}

export function SortableTable<T>({ rows, columns, rowKey, onOpen, initialSort, label }: Props<T>) {
  const [sort, setSort] = useState(initialSort ?? null);
  const sorted = useMemo(() => {
    const col = columns.find((c) => c.key === sort?.key);
    if (!col?.sortValue || !sort) return rows;
    const by = col.sortValue;
    const dir = sort.desc ? -1 : 1;
    return [...rows].sort((a, b) => { const x = by(a); const y = by(b); return (x < y ? -1 : x > y ? 1 : 0) * dir; });
  }, [rows, columns, sort]);
  const toggle = (key: string) => setSort((s) => ({ key, desc: s?.key === key ? !s.desc : false }));
  return (
    <ScrollArea>
      <Table striped highlightOnHover={!!onOpen} aria-label={label} verticalSpacing="xs">
        <Table.Thead>
          <Table.Tr>
            {columns.map((c) => (
              <Table.Th key={c.key} aria-sort={sort?.key === c.key ? (sort.desc ? 'descending' : 'ascending') : undefined}>
                {c.sortValue
                  ? <UnstyledButton fw={600} fz="sm" onClick={() => toggle(c.key)}>{c.label}{sort?.key === c.key ? (sort.desc ? ' ▼' : ' ▲') : ''}</UnstyledButton>
                  : c.label}
              </Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {sorted.map((r) => (
            <Table.Tr key={rowKey(r)} style={onOpen ? { cursor: 'pointer' } : undefined} tabIndex={onOpen ? 0 : undefined}
              onClick={onOpen ? () => onOpen(r) : undefined}
              onKeyDown={onOpen ? (e) => { if (e.key === 'Enter') onOpen(r); } : undefined}>
              {columns.map((c) => <Table.Td key={c.key} style={c.wrap ? undefined : { whiteSpace: 'nowrap' }}>{c.render(r)}</Table.Td>)}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </ScrollArea>
  );
}
