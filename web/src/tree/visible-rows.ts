// Pure logic of the process-tree view: which nodes are visible as rows, given the collapsed nodes and a
// search. Nodes are identified by entity id, never by PID, so a reused PID is simply another node.

import type { ProcessNode } from '../api/types.ts';

export interface TreeRow { node: ProcessNode; depth: number; hasChildren: boolean; collapsed: boolean }

function nodeMatches(n: ProcessNode, needle: string): boolean {
  return String(n.pid) === needle || n.exe.toLowerCase().includes(needle) || n.cmdline.toLowerCase().includes(needle)
    || (n.user_name ?? '').toLowerCase().includes(needle);
}

/** Entity ids of the nodes that match and of all their ancestors (the paths to show while searching). */
export function pathsToMatches(roots: ProcessNode[], needle: string): Set<string> {
  const keep = new Set<string>();
  const visit = (n: ProcessNode): boolean => {
    let any = nodeMatches(n, needle);
    for (const c of n.children) if (visit(c)) any = true;
    if (any) keep.add(n.entity_id);
    return any;
  };
  for (const r of roots) visit(r);
  return keep;
}

/** Depth-first rows; a search shows only paths to matches, fully expanded. Iterative so deep trees cannot overflow the stack. */
export function visibleRows(roots: ProcessNode[], collapsed: ReadonlySet<string>, search: string): TreeRow[] {
  const needle = search.trim().toLowerCase();
  const keep = needle ? pathsToMatches(roots, needle) : null;
  const rows: TreeRow[] = [];
  const stack: { node: ProcessNode; depth: number }[] = roots.map((node) => ({ node, depth: 0 })).reverse();
  while (stack.length) {
    const { node, depth } = stack.pop()!;
    if (keep && !keep.has(node.entity_id)) continue;
    const isCollapsed = !keep && collapsed.has(node.entity_id);
    rows.push({ node, depth, hasChildren: node.children.length > 0, collapsed: isCollapsed });
    if (isCollapsed) continue;
    for (let i = node.children.length - 1; i >= 0; i--) stack.push({ node: node.children[i], depth: depth + 1 });
  }
  return rows;
}

/** Entity id → node, for looking up a selected or alerted process. */
export function indexTree(roots: ProcessNode[]): Map<string, ProcessNode> {
  const byId = new Map<string, ProcessNode>();
  const stack = [...roots];
  while (stack.length) { const n = stack.pop()!; byId.set(n.entity_id, n); stack.push(...n.children); }
  return byId;
}
