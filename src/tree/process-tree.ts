// The process tree: process-node rows derived from process events (seed 002 §9), and the tree built from
// nodes for a moment in time. Parent links use entity ids, so a reused PID never adopts another's children.
// Pure.

import type { VigilEvent } from '../schema/event.ts';

export interface ProcessNode {
  tenant_id: string;
  host_id: string;
  entity_id: string;
  pid: number;
  ppid: number;
  parent_entity_id: string;
  exe: string;
  cmdline: string;
  start_ts: string; // ISO 8601
  exit_ts: string | null;
  exit_code: number | null;
  uid: number;
  gid: number;
  user_name: string;
  sha256: string;
  mitre: string[];
  gtfobins: string[];
  ver: number; // 0 = start row, 1 = exit row (the exit row replaces the start row)
}

export interface TreeNode extends ProcessNode {
  children: TreeNode[];
}

const num = (v: string | undefined): number => {
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
};

/** The process-node row an event contributes, or null for events that do not start or end a process. */
export function processNodeFromEvent(e: VigilEvent): ProcessNode | null {
  const p = e.process;
  if (!p?.entity_id || p.pid === undefined) return null;
  const isEnd = e.event.type === 'process_end';
  if (!isEnd && e.event.type !== 'process_start') return null;
  return {
    tenant_id: e.agent.tenant_id,
    host_id: e.agent.id,
    entity_id: p.entity_id,
    pid: p.pid,
    ppid: p.ppid ?? p.parent?.pid ?? 0,
    parent_entity_id: p.parent?.entity_id ?? '',
    exe: p.executable ?? '',
    cmdline: p.command_line ?? '',
    start_ts: p.start ?? e['@timestamp'],
    exit_ts: isEnd ? e['@timestamp'] : null,
    exit_code: isEnd ? (p.exit_code ?? null) : null,
    uid: num(e.user?.id),
    gid: num(e.user?.group?.id),
    user_name: e.user?.name ?? '',
    sha256: p.hash?.sha256 ?? '',
    mitre: e.threat?.mitre ?? [],
    gtfobins: e.threat?.gtfobins ?? [],
    ver: isEnd ? 1 : 0,
  };
}

/**
 * Builds the forest of processes alive at `at` (all given nodes are assumed alive then). A node whose
 * parent is not among them becomes a root; without a parent entity id, the live process with its ppid is
 * the parent. Children are ordered by start time.
 */
export function buildTree(nodes: ProcessNode[]): TreeNode[] {
  const byEntity = new Map<string, TreeNode>();
  const byPid = new Map<number, TreeNode>(); // among processes alive at one moment, pids are unique
  for (const n of nodes) {
    const node = { ...n, children: [] };
    byEntity.set(n.entity_id, node);
    byPid.set(n.pid, node);
  }
  const roots: TreeNode[] = [];
  for (const node of byEntity.values()) {
    const parent = node.parent_entity_id ? byEntity.get(node.parent_entity_id) : byPid.get(node.ppid);
    if (parent && parent !== node) parent.children.push(node);
    else roots.push(node);
  }
  const byStart = (a: TreeNode, b: TreeNode) => a.start_ts.localeCompare(b.start_ts) || a.pid - b.pid;
  const sortDeep = (list: TreeNode[]) => {
    list.sort(byStart);
    for (const n of list) sortDeep(n.children);
  };
  sortDeep(roots);
  return roots;
}
