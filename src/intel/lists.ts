// The indicator lists loaded for matching, per tenant: a list is replaced whole when a newer version of it is
// loaded (hot reload: the stage reads the tenant's lists at each batch) and dropped when deleted. Pure.

import type { IndicatorMatcher } from './matcher.ts';

export interface LoadedList {
  id: string;
  tenantId: string;
  name: string;
  /** Where its indicators come from (the URL it is polled from, or `upload`). */
  source: string;
  version: number;
  matcher: IndicatorMatcher;
}

export class IntelLists {
  private readonly byTenant = new Map<string, Map<string, LoadedList>>();

  of(tenantId: string): Iterable<LoadedList> {
    return this.byTenant.get(tenantId)?.values() ?? [];
  }

  version(tenantId: string, id: string): number | undefined {
    return this.byTenant.get(tenantId)?.get(id)?.version;
  }

  put(l: LoadedList): void {
    let m = this.byTenant.get(l.tenantId);
    if (!m) this.byTenant.set(l.tenantId, (m = new Map()));
    m.set(l.id, l);
  }

  remove(tenantId: string, id: string): void {
    this.byTenant.get(tenantId)?.delete(id);
  }

  /** Every loaded list as (tenant, id). */
  *keys(): Iterable<{ tenantId: string; id: string }> {
    for (const [tenantId, m] of this.byTenant) for (const id of m.keys()) yield { tenantId, id };
  }
}
