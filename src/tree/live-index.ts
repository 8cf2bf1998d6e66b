// The live process index: the processes of each host that have started and not exited, kept up to date by
// the pipeline from process_start/process_end events, so the live process tree is served from memory
// instead of re-aggregating stored process nodes on every request. Seeded from the store at start; bounded
// per host: past the bound, the least recently started tenth of it is forgotten at once. Pure.

import type { VigilEvent } from '../schema/event.ts';
import { trimOldest } from '../util/trim-oldest.ts';
import { processNodeFromEvent, type ProcessNode } from './process-tree.ts';

export class LiveProcessIndex {
  private readonly hosts = new Map<string, Map<string, ProcessNode>>();
  private readonly maxPerHost: number;

  constructor(maxPerHost = 100_000) {
    this.maxPerHost = maxPerHost;
  }

  private host(tenantId: string, hostId: string): Map<string, ProcessNode> {
    const key = `${tenantId}\u0000${hostId}`;
    let h = this.hosts.get(key);
    if (!h) { h = new Map(); this.hosts.set(key, h); }
    return h;
  }

  /** Adds the processes alive on a host (from the store, at start). */
  seed(tenantId: string, hostId: string, nodes: ProcessNode[]): void {
    const h = this.host(tenantId, hostId);
    for (const n of nodes) h.set(n.entity_id, n);
  }

  apply(events: VigilEvent[]): void {
    for (const e of events) {
      const node = processNodeFromEvent(e);
      if (!node) continue;
      const h = this.host(node.tenant_id, node.host_id);
      if (node.exit_ts !== null) { h.delete(node.entity_id); continue; }
      const known = h.get(node.entity_id);
      h.set(node.entity_id, known ?? node);
      trimOldest(h, this.maxPerHost);
    }
  }

  /** The live processes of a host, or undefined for a host this index has never heard of. */
  nodes(tenantId: string, hostId: string): ProcessNode[] | undefined {
    const h = this.hosts.get(`${tenantId}\u0000${hostId}`);
    return h ? [...h.values()] : undefined;
  }
}
