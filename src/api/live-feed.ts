// The live feed behind GET /api/v1/stream: components publish `alert` and `host` events for a tenant, and each
// open stream of that tenant receives them. In-process only (one API process); a multi-process deployment
// would feed it from the bus.

export type LiveEventType = 'alert' | 'host';

export interface LiveEvent {
  type: LiveEventType;
  tenantId: string;
  data: unknown;
}

type Listener = (e: LiveEvent) => void;

export class LiveFeed {
  private readonly listeners = new Map<string, Set<Listener>>();

  /** Delivers `data` to every open stream of `tenantId`. */
  publish(type: LiveEventType, tenantId: string, data: unknown): void {
    for (const listener of this.listeners.get(tenantId) ?? []) listener({ type, tenantId, data });
  }

  /** Listens to one tenant's events; returns the function that stops listening. */
  subscribe(tenantId: string, listener: Listener): () => void {
    const set = this.listeners.get(tenantId) ?? new Set<Listener>();
    set.add(listener);
    this.listeners.set(tenantId, set);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(tenantId);
    };
  }

  get subscribers(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }
}
