// An exact result cache in front of an event store, for the process that also writes to it (the embedded
// server): event searches answered since the last insert are answered again from memory, since nothing
// they read has changed. Every insert starts a new epoch and empties the cache; a search that overlapped an
// insert is not kept. Bounded by entries and by the events they hold. Everything else passes through.

import type { VigilEvent } from '../../schema/event.ts';
import type { ProcessNode } from '../../tree/process-tree.ts';
import type { EventPage, EventQuery, EventStore } from './types.ts';
import type { HuntLimits, HuntResult } from './hunt.ts';

export interface CacheLimits { entries: number; events: number }

export class CachedEventStore implements EventStore {
  private readonly inner: EventStore;
  private readonly limits: CacheLimits;
  private readonly pages = new Map<string, EventPage>();
  private cachedEvents = 0;
  private epoch = 0;
  readonly counters = { hits: 0, misses: 0 };

  constructor(inner: EventStore, limits: CacheLimits = { entries: 256, events: 50_000 }) {
    this.inner = inner;
    this.limits = limits;
  }

  init(): Promise<void> { return this.inner.init(); }

  async insert(events: VigilEvent[]): Promise<void> {
    this.invalidate();
    try {
      await this.inner.insert(events);
    } finally {
      this.invalidate();
    }
  }

  storedEventIds(events: VigilEvent[]): Promise<Set<string>> { return this.inner.storedEventIds(events); }

  private invalidate(): void {
    this.epoch++;
    this.pages.clear();
    this.cachedEvents = 0;
  }

  async queryEvents(q: EventQuery): Promise<EventPage> {
    const key = JSON.stringify([q.tenantId, q.from, q.to, q.hostId, q.types, q.q, q.processEntityId, q.userName, q.filePath, q.sha256, q.ip, q.limit, q.cursor]);
    const hit = this.pages.get(key);
    if (hit) {
      this.counters.hits++;
      return hit;
    }
    this.counters.misses++;
    const epoch = this.epoch;
    const page = await this.inner.queryEvents(q);
    if (epoch === this.epoch) this.keep(key, page);
    return page;
  }

  private keep(key: string, page: EventPage): void {
    if (page.events.length > this.limits.events) return;
    while (this.pages.size >= this.limits.entries || this.cachedEvents + page.events.length > this.limits.events) {
      const [oldest, dropped] = this.pages.entries().next().value!;
      this.pages.delete(oldest);
      this.cachedEvents -= dropped.events.length;
    }
    this.pages.set(key, page);
    this.cachedEvents += page.events.length;
  }

  processNodes(tenantId: string, hostId: string, at: Date, limit: number): Promise<ProcessNode[]> {
    return this.inner.processNodes(tenantId, hostId, at, limit);
  }

  processEvents(tenantId: string, hostId: string, entityIds: string[]): Promise<VigilEvent[]> {
    return this.inner.processEvents(tenantId, hostId, entityIds);
  }

  processLineageEvents(tenantId: string, hostId: string, entityId: string): Promise<VigilEvent[]> {
    return this.inner.processLineageEvents(tenantId, hostId, entityId);
  }

  childProcessEvents(tenantId: string, hostId: string, parentEntityId: string, since: Date, limit: number): Promise<VigilEvent[]> {
    return this.inner.childProcessEvents(tenantId, hostId, parentEntityId, since, limit);
  }

  processEventCounts(tenantId: string, hostId: string, entityId: string, since: Date, until?: Date): Promise<Record<string, number>> {
    return this.inner.processEventCounts(tenantId, hostId, entityId, since, until);
  }

  countDistinct(tenantId: string): Promise<number> { return this.inner.countDistinct(tenantId); }

  eventCounts(tenantId: string, from: Date, bucketSeconds: number): Promise<{ t: string; count: number }[]> {
    return this.inner.eventCounts(tenantId, from, bucketSeconds);
  }

  hunt(tenantId: string, sql: string, limits: HuntLimits): Promise<HuntResult> { return this.inner.hunt(tenantId, sql, limits); }

  close(): Promise<void> { return this.inner.close(); }
}
