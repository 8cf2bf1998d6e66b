// The API's live risk (src/risk/live.ts) over the alert store: the alerts that count are a tenant's open and
// acknowledged ones; a stored alert gives its host, its user (the captured process's user, else the kept event's
// `user.name`), level, MITRE techniques and last occurrence. New and repeated alerts reach it from the alert feed.

import type { IndexedAlert } from '../risk/index.ts';
import { LiveRisk } from '../risk/live.ts';
import type { AlertStore, StoredAlert } from '../stores/alerts/types.ts';

const PAGE = 1000;
/** Most alerts read per tenant when loading (the newest first); beyond it the oldest do not count. */
const MAX_LOADED = 200_000;

export const countsForRisk = (a: Pick<StoredAlert, 'status'>): boolean => a.status === 'open' || a.status === 'acknowledged';

function userOf(a: StoredAlert): string | undefined {
  if (a.process?.user_name) return a.process.user_name;
  const user = a.events[0]?.user as { name?: unknown } | undefined;
  return typeof user?.name === 'string' && user.name ? user.name : undefined;
}

export function indexedAlert(a: StoredAlert): IndexedAlert {
  return {
    id: a.id, hostId: a.host_id || undefined, userName: userOf(a), level: a.rule.level,
    techniques: a.mitre.map((t) => t.id), lastSeen: Date.parse(a.last_seen),
  };
}

async function countedAlerts(store: AlertStore, tenantId: string): Promise<IndexedAlert[]> {
  const out: IndexedAlert[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list({ tenantId, statuses: ['open', 'acknowledged'], limit: PAGE, cursor });
    for (const a of page.alerts) out.push(indexedAlert(a));
    cursor = page.next ?? undefined;
  } while (cursor && out.length < MAX_LOADED);
  return out;
}

export function alertStoreRisk(store: AlertStore, refreshMs?: number): LiveRisk {
  return new LiveRisk({ load: (tenant) => countedAlerts(store, tenant), refreshMs });
}

/** Tells the live risk of an alert as the feed announces it. */
export function riskOnAlert(risk: LiveRisk, a: StoredAlert): void {
  risk.alert(a.tenant_id, indexedAlert(a), countsForRisk(a));
}
