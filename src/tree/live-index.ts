// The live process index: the processes of each host that have started and not exited, kept up to date by
// the pipeline from process events, so the live process tree is served from memory instead of
// re-aggregating stored process nodes on every request; and the processes that exited recently, so that an
// alert's lineage (its process and ancestors) is captured when the alert is made, short-lived processes
// included, without waiting for the store. A later exec of a live process replaces its image (the tree shows
// what runs now). Seeded from the store at start; bounded per host: past a bound, the least recently started
// (or exited) tenth is forgotten at once. Pure.

import type { VigilEvent } from '../schema/event.ts';
import { trimOldest } from '../util/trim-oldest.ts';
import { processNodeFromEvent, type ProcessNode } from './process-tree.ts';

/** What an alert and the process endpoint say of one process. */
export interface ProcessSummary {
  entity_id: string;
  pid: number;
  ppid: number;
  parent_entity_id: string;
  executable: string;
  command_line: string;
  start: string;
  exit: string | null;
  user_name: string;
  user_id: string;
}

/** A process and its ancestors, root first, up to pid 1 or the first ancestor never observed. */
export interface Lineage { process: ProcessSummary; ancestors: ProcessSummary[] }

/** Ancestors kept in a lineage at most (a loop of entity ids, which only corrupt input makes, ends here too). */
export const MAX_ANCESTORS = 64;

export function processSummary(n: ProcessNode): ProcessSummary {
  return {
    entity_id: n.entity_id, pid: n.pid, ppid: n.ppid, parent_entity_id: n.parent_entity_id, executable: n.exe,
    command_line: n.cmdline, start: n.start_ts, exit: n.exit_ts, user_name: n.user_name, user_id: String(n.uid),
  };
}

interface HostProcesses { live: Map<string, ProcessNode>; exited: Map<string, ProcessNode> }

export class LiveProcessIndex {
  private readonly hosts = new Map<string, HostProcesses>();
  private readonly maxPerHost: number;
  private readonly maxExitedPerHost: number;

  constructor(maxPerHost = 100_000, maxExitedPerHost = 20_000) {
    this.maxPerHost = maxPerHost;
    this.maxExitedPerHost = maxExitedPerHost;
  }

  private host(tenantId: string, hostId: string): HostProcesses {
    const key = `${tenantId}\u0000${hostId}`;
    let h = this.hosts.get(key);
    if (!h) { h = { live: new Map(), exited: new Map() }; this.hosts.set(key, h); }
    return h;
  }

  /** Adds the processes alive on a host (from the store, at start). */
  seed(tenantId: string, hostId: string, nodes: ProcessNode[]): void {
    const h = this.host(tenantId, hostId);
    for (const n of nodes) h.live.set(n.entity_id, n);
  }

  /** Drops what the index holds of a host (a worker whose partition of that host went to another worker). */
  forget(tenantId: string, hostId: string): void {
    this.hosts.delete(`${tenantId}\u0000${hostId}`);
  }

  apply(events: VigilEvent[]): void {
    for (const e of events) {
      if (e.event.type === 'process_hash') {
        this.addHash(e);
        continue;
      }
      const node = processNodeFromEvent(e) ?? forkedNode(e);
      if (!node) continue;
      const h = this.host(node.tenant_id, node.host_id);
      const known = h.live.get(node.entity_id);
      if (node.exit_ts !== null) {
        h.live.delete(node.entity_id);
        h.exited.set(node.entity_id, known ? { ...known, exit_ts: node.exit_ts, exit_code: node.exit_code, ver: 1 } : node);
        trimOldest(h.exited, this.maxExitedPerHost);
        continue;
      }
      if (known && e.event.type === 'process_fork') continue; // the fork of a process already known tells nothing new
      h.live.set(node.entity_id, known ? execed(known, node) : node);
      if (!known) trimOldest(h.live, this.maxPerHost);
    }
  }

  /** A process_hash event: the digest of the image the process runs (if it still runs that executable). */
  private addHash(e: VigilEvent): void {
    const sha256 = e.process?.hash?.sha256;
    const id = e.process?.entity_id;
    if (!sha256 || !id) return;
    const known = this.node(e.agent.tenant_id, e.agent.id, id);
    if (known && known.exe === (e.process?.executable ?? known.exe)) known.sha256 = sha256;
  }

  /** The live processes of a host, or undefined for a host this index has never heard of. */
  nodes(tenantId: string, hostId: string): ProcessNode[] | undefined {
    const h = this.hosts.get(`${tenantId}\u0000${hostId}`);
    return h ? [...h.live.values()] : undefined;
  }

  /** A process (live or recently exited) of a host, by entity id. */
  node(tenantId: string, hostId: string, entityId: string): ProcessNode | undefined {
    const h = this.hosts.get(`${tenantId}\u0000${hostId}`);
    return h?.live.get(entityId) ?? h?.exited.get(entityId);
  }

  /** The process and its ancestors as far as this index knows them; undefined for an unknown process. */
  lineage(tenantId: string, hostId: string, entityId: string): Lineage | undefined {
    const own = this.node(tenantId, hostId, entityId);
    if (!own) return undefined;
    const ancestors: ProcessSummary[] = [];
    const seen = new Set([own.entity_id]);
    for (let n = this.parentOf(own); n && !seen.has(n.entity_id) && ancestors.length < MAX_ANCESTORS; n = this.parentOf(n)) {
      seen.add(n.entity_id);
      ancestors.push(processSummary(n));
    }
    return { process: processSummary(own), ancestors: ancestors.reverse() };
  }

  /** The entity ids of a process's ancestors as far as this index knows them, nearest first; [] for an unknown process. */
  ancestorIds(tenantId: string, hostId: string, entityId: string): string[] {
    const own = this.node(tenantId, hostId, entityId);
    const ids: string[] = [];
    const seen = new Set([entityId]);
    for (let n = own && this.parentOf(own); n && !seen.has(n.entity_id) && ids.length < MAX_ANCESTORS; n = this.parentOf(n)) {
      seen.add(n.entity_id);
      ids.push(n.entity_id);
    }
    return ids;
  }

  private parentOf(n: ProcessNode): ProcessNode | undefined {
    return n.parent_entity_id ? this.node(n.tenant_id, n.host_id, n.parent_entity_id) : undefined;
  }
}

/** A later exec of a known process: the new image, the first start and parent kept. */
function execed(known: ProcessNode, next: ProcessNode): ProcessNode {
  return {
    ...known, exe: next.exe || known.exe, cmdline: next.cmdline || known.cmdline,
    uid: next.uid, gid: next.gid, user_name: next.user_name || known.user_name, sha256: next.sha256 || known.sha256,
    parent_entity_id: known.parent_entity_id || next.parent_entity_id,
  };
}

/** A forked child (which runs its parent's image until it execs) as a node. */
function forkedNode(e: VigilEvent): ProcessNode | null {
  if (e.event.type !== 'process_fork') return null;
  return processNodeFromEvent({ ...e, event: { ...e.event, type: 'process_start' } });
}
