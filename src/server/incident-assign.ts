// Grouping of stored alerts into incidents, as both deployments' detection sinks call it after the alert store
// write: every alert of the batch as stored (new ones, and repeats or redelivered ones, which only widen the
// incident that holds them, or are grouped now if an earlier attempt failed before grouping them). Excepted
// alerts (stored, never delivered) are not grouped. Wiring between the alert and incident stores (the grouping
// itself is pure: src/incidents/grouping.ts).

import type { Alert } from '../detect/alerts.ts';
import { isDeliverable, type AlertStore, type StoredAlert } from '../stores/alerts/types.ts';
import type { Assignment, IncidentStore } from '../stores/incidents/types.ts';
import { alertFacts } from '../incidents/grouping.ts';

export function groupStored(incidents: IncidentStore, stored: (StoredAlert | undefined)[]): Promise<Assignment[]> {
  return incidents.assign(stored.filter((a): a is StoredAlert => a !== undefined && isDeliverable(a)).map(alertFacts));
}

/** The batch's alerts as stored: the store's answer for new ones, a read for the others (repeats, redeliveries). */
export function storedViews(alerts: AlertStore, batch: Alert[], fresh: StoredAlert[]): Promise<(StoredAlert | undefined)[]> {
  const byId = new Map(fresh.map((a) => [`${a.tenant_id}\u0000${a.id}`, a]));
  return Promise.all(batch.map(async (a) => byId.get(`${a.tenant_id}\u0000${a.id}`) ?? await alerts.get(a.tenant_id, a.id)));
}
