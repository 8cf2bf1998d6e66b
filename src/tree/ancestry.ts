// A process's ancestry recorded when its start is stored: on each process_start and process_fork, before the batch
// is stored, `process.ancestry` lists the entity ids of its ancestors, nearest first (its parent, the parent's
// parent, …), from the processes started earlier in the batch and the live process index (which has not yet
// applied the batch). The process endpoint then reads a process and every recorded ancestor in one query. The list
// ends where the index's knowledge ends (an ancestor never observed, or one a worker that just took over the host
// has not seen): a reader goes on from the last one by its stored parent. Pure.

import type { VigilEvent } from '../schema/event.ts';
import { MAX_ANCESTORS, type LiveProcessIndex } from './live-index.ts';

const STARTS = new Set(['process_start', 'process_fork']);

/** Sets `process.ancestry` on the process starts and forks of `events` (in order), from the batch and `index`. */
export function recordAncestry(index: Pick<LiveProcessIndex, 'ancestorIds'>, events: VigilEvent[]): void {
  const inBatch = new Map<string, string[]>();
  for (const e of events) {
    const p = e.process;
    const parent = p?.parent?.entity_id;
    if (!STARTS.has(e.event.type) || !p?.entity_id || !parent || parent === p.entity_id) continue;
    const key = (entity: string) => `${e.agent.tenant_id}\u0000${e.agent.id}\u0000${entity}`;
    const above = inBatch.get(key(parent)) ?? index.ancestorIds(e.agent.tenant_id, e.agent.id, parent);
    const cut = above.indexOf(p.entity_id); // a loop of entity ids (only corrupt input makes one) ends before the process itself
    const ancestry = [parent, ...(cut < 0 ? above : above.slice(0, cut))].slice(0, MAX_ANCESTORS);
    p.ancestry = ancestry;
    inBatch.set(key(p.entity_id), ancestry);
  }
}
