// The risk index: per tenant, the counted alerts of each host and each user, kept incrementally (an alert added,
// replaced by its newer state, or removed when it stops counting), scored on read with the §11 formula
// (score.ts). Which alerts count is the caller's choice (the API counts open and acknowledged alerts). Pure.

import { riskScore, type RiskAlert, type RiskBreakdown } from './score.ts';

export type RiskSubject = 'host' | 'user';

/** An alert as the index keeps it: the formula's inputs and whom it is about. */
export interface IndexedAlert extends RiskAlert {
  id: string;
  hostId?: string;
  userName?: string;
}

export interface RankedSubject extends RiskBreakdown { id: string }

/** One kind of subject (hosts or users) of one tenant: alerts by subject, and the subject sizes for the maximum. */
class SubjectAlerts {
  private readonly bySubject = new Map<string, Map<string, IndexedAlert>>();

  add(subject: string, a: IndexedAlert): void {
    let m = this.bySubject.get(subject);
    if (!m) this.bySubject.set(subject, (m = new Map()));
    m.set(a.id, a);
  }

  remove(subject: string, id: string): void {
    const m = this.bySubject.get(subject);
    if (!m) return;
    m.delete(id);
    if (m.size === 0) this.bySubject.delete(subject);
  }

  maxAlerts(): number {
    let max = 0;
    for (const m of this.bySubject.values()) if (m.size > max) max = m.size;
    return max;
  }

  score(subject: string, now: number): RiskBreakdown {
    return riskScore(this.bySubject.get(subject)?.values() ?? [], this.maxAlerts(), now);
  }

  top(limit: number, now: number): RankedSubject[] {
    const max = this.maxAlerts();
    return [...this.bySubject].map(([id, m]) => ({ id, ...riskScore(m.values(), max, now) }))
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1)).slice(0, limit);
  }
}

class TenantRisk {
  readonly alerts = new Map<string, IndexedAlert>();
  readonly hosts = new SubjectAlerts();
  readonly users = new SubjectAlerts();

  put(a: IndexedAlert): void {
    this.delete(a.id);
    this.alerts.set(a.id, a);
    if (a.hostId) this.hosts.add(a.hostId, a);
    if (a.userName) this.users.add(a.userName, a);
  }

  delete(id: string): void {
    const old = this.alerts.get(id);
    if (!old) return;
    this.alerts.delete(id);
    if (old.hostId) this.hosts.remove(old.hostId, id);
    if (old.userName) this.users.remove(old.userName, id);
  }

  of(kind: RiskSubject): SubjectAlerts {
    return kind === 'host' ? this.hosts : this.users;
  }
}

export class RiskIndex {
  private readonly tenants = new Map<string, TenantRisk>();

  private tenant(id: string): TenantRisk {
    let t = this.tenants.get(id);
    if (!t) this.tenants.set(id, (t = new TenantRisk()));
    return t;
  }

  /** Replaces the tenant's alerts with these (a full reload). */
  load(tenantId: string, alerts: Iterable<IndexedAlert>): void {
    const t = new TenantRisk();
    for (const a of alerts) t.put(a);
    this.tenants.set(tenantId, t);
  }

  /** Adds an alert, or replaces its earlier state (a repeat merged in, a changed level). */
  put(tenantId: string, a: IndexedAlert): void {
    this.tenant(tenantId).put(a);
  }

  /** The alert no longer counts (closed, excepted). */
  remove(tenantId: string, alertId: string): void {
    this.tenants.get(tenantId)?.delete(alertId);
  }

  score(tenantId: string, kind: RiskSubject, subject: string, now: number): RiskBreakdown {
    return this.tenant(tenantId).of(kind).score(subject, now);
  }

  /** The `limit` highest-scoring subjects of the tenant, highest first (ties by id). */
  top(tenantId: string, kind: RiskSubject, limit: number, now: number): RankedSubject[] {
    return this.tenant(tenantId).of(kind).top(limit, now);
  }
}
