// Live risk: the risk index of each tenant, loaded from the counted alerts on first use and again when older
// than `refreshMs` (triage that stops an alert counting is seen then), and kept current between loads by every
// new or repeated alert it is told of (`alert`). Loading is the caller's (`load`: the tenant's counted alerts), so
// this stays pure.

import { RiskIndex, type IndexedAlert, type RankedSubject, type RiskSubject } from './index.ts';
import type { RiskBreakdown } from './score.ts';

export const DEFAULT_RISK_REFRESH_MS = 60_000;

export interface LiveRiskOptions {
  /** The tenant's alerts that count (the API: open and acknowledged). */
  load(tenantId: string): Promise<IndexedAlert[]>;
  refreshMs?: number;
  now?: () => number;
}

export class LiveRisk {
  private readonly index = new RiskIndex();
  private readonly loaded = new Map<string, { at: number; pending?: Promise<void> }>();
  private readonly o: LiveRiskOptions;

  constructor(o: LiveRiskOptions) {
    this.o = o;
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  private async fresh(tenantId: string): Promise<void> {
    const l = this.loaded.get(tenantId);
    if (l?.pending) return l.pending;
    if (l && this.now() - l.at < (this.o.refreshMs ?? DEFAULT_RISK_REFRESH_MS)) return;
    const pending = this.o.load(tenantId).then(
      (alerts) => { this.index.load(tenantId, alerts); this.loaded.set(tenantId, { at: this.now() }); },
      (err: unknown) => { if (l) this.loaded.set(tenantId, { at: l.at }); else this.loaded.delete(tenantId); throw err; });
    this.loaded.set(tenantId, { at: l?.at ?? 0, pending });
    return pending;
  }

  /** A new or repeated alert that counts (`counts` false: it stopped counting). Ignored for a tenant not loaded yet. */
  alert(tenantId: string, a: IndexedAlert, counts = true): void {
    if (!this.loaded.has(tenantId)) return;
    if (counts) this.index.put(tenantId, a);
    else this.index.remove(tenantId, a.id);
  }

  async score(tenantId: string, kind: RiskSubject, subject: string): Promise<RiskBreakdown> {
    await this.fresh(tenantId);
    return this.index.score(tenantId, kind, subject, this.now());
  }

  async top(tenantId: string, kind: RiskSubject, limit: number): Promise<RankedSubject[]> {
    await this.fresh(tenantId);
    return this.index.top(tenantId, kind, limit, this.now());
  }
}
