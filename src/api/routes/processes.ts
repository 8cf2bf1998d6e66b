// GET /hosts/{id}/processes/{entity_id}: one process of a host as the stored events tell it (so short-lived
// and exited processes answer as exactly as live ones): its summary and exec chain, its ancestors root first
// (up to pid 1 or the first ancestor never observed, which is then given as its child's event named it), its
// children, its events counted by type, and the alerts about it. Tenant-checked like every route.
// The process and the ancestors its start recorded (src/tree/ancestry.ts) are one read; the walk up by stored
// parent goes on from where that list ends (processes stored before ancestry was recorded, or an ancestor the
// recording server did not know), one read per ancestor, again with the ancestors each recorded.

import type { FastifyInstance } from 'fastify';
import type { EventStore } from '../../stores/events/types.ts';
import { MAX_ANCESTORS, type ProcessSummary } from '../../tree/live-index.ts';
import { parentFromEvent, processFromEvents, type ProcessRecordView } from '../../tree/process-record.ts';
import { trimOldest } from '../../util/trim-oldest.ts';
import { problem } from '../http.ts';
import type { ApiOptions } from '../server.ts';
import { answers, ref } from '../schemas/index.ts';

const MAX_CHILDREN = 1000;
const MAX_ALERT_IDS = 1000;

/** Exited processes kept per API process (about 1 KB each): an ancestor is read once for all its descendants. */
const EXITED_CACHE_ENTRIES = 5000;
/** An exit older than this has all its events stored (an agent's late batches arrive well within it). */
const SETTLED_MS = 10 * 60_000;

type Stored = { view?: ProcessRecordView; parentNamed?: ProcessSummary };
/** `read`: the processes read for this request, by entity id. */
type Scope = { events: EventStore; tenant: string; host: string; exited: Map<string, Stored>; read: Map<string, Stored> };

/**
 * A process from its stored lifecycle events, read with the ancestors its start recorded (kept in `s.read` for
 * the walk). A process that exited a while ago never changes (its events are all in), so it is kept across
 * requests: ancestors near the root (a session's shell, a service) are shared by many processes.
 */
async function storedProcess(s: Scope, entityId: string): Promise<Stored> {
  const key = (id: string) => `${s.tenant}\u0000${s.host}\u0000${id}`;
  const known = s.read.get(entityId) ?? s.exited.get(key(entityId));
  if (known) return known;
  const events = await s.events.processLineageEvents(s.tenant, s.host, entityId);
  for (const [id, own] of Map.groupBy(events, (e) => e.process?.entity_id ?? '')) {
    if (!id) continue;
    const found = { view: processFromEvents(id, own), parentNamed: own.map(parentFromEvent).find((p) => p) };
    s.read.set(id, found);
    const exit = found.view?.process.exit;
    if (exit && Date.parse(exit) < Date.now() - SETTLED_MS) {
      s.exited.set(key(id), found);
      trimOldest(s.exited, EXITED_CACHE_ENTRIES);
    }
  }
  return s.read.get(entityId) ?? {};
}

/** The ancestors of a process, root first. */
async function ancestorsOf(s: Scope, start: ProcessRecordView, parentNamed: ProcessSummary | undefined): Promise<ProcessSummary[]> {
  const out: ProcessSummary[] = [];
  const seen = new Set([start.process.entity_id]);
  let next = start.process.parent_entity_id;
  let named = parentNamed;
  while (next && !seen.has(next) && out.length < MAX_ANCESTORS) {
    seen.add(next);
    const found = await storedProcess(s, next);
    if (!found.view) { // never observed itself: what its child's event said of it ends the chain
      if (named?.entity_id === next) out.push(named);
      break;
    }
    out.push(found.view.process);
    next = found.view.process.parent_entity_id;
    named = found.parentNamed;
  }
  return out.reverse();
}

async function childrenOf(s: Scope, p: ProcessSummary): Promise<ProcessSummary[]> {
  const since = new Date(Math.max(0, (Date.parse(p.start) || 0) - 1000));
  const events = await s.events.childProcessEvents(s.tenant, s.host, p.entity_id, since, MAX_CHILDREN * 3);
  const ids = [...new Set(events.map((e) => e.process?.entity_id).filter((id): id is string => !!id))].slice(0, MAX_CHILDREN);
  return ids.map((id) => processFromEvents(id, events)!.process);
}

export function processRoutes(api: FastifyInstance, o: ApiOptions): void {
  const exited = new Map<string, Stored>();
  api.get<{ Params: { id: string; entity_id: string } }>('/hosts/:id/processes/:entity_id', {
    config: { access: 'hosts:read' },
    schema: { params: { type: 'object', required: ['id', 'entity_id'], properties: {
      id: { type: 'string', minLength: 1, maxLength: 128 }, entity_id: { type: 'string', minLength: 1, maxLength: 128 } } }, response: answers({ 200: ref('ProcessDetail') }) },
  }, async (req, reply) => {
    const tenant = req.principal!.tenantId;
    const host = await o.metadata.getHost(tenant, req.params.id);
    if (!host) return problem(reply, 404, 'Not Found', 'no such host');
    const s: Scope = { events: o.events, tenant, host: host.id, exited, read: new Map() };
    const { view, parentNamed } = await storedProcess(s, req.params.entity_id);
    if (!view) return problem(reply, 404, 'Not Found', 'no such process on this host');
    const since = new Date(Math.max(0, (Date.parse(view.process.start) || 0) - 60_000));
    const [ancestors, children, events, alerts] = await Promise.all([
      ancestorsOf(s, view, parentNamed),
      childrenOf(s, view.process),
      o.events.processEventCounts(tenant, host.id, view.process.entity_id, since, view.process.exit ? new Date(Date.parse(view.process.exit) + 60_000) : undefined),
      o.alerts ? o.alerts.list({ tenantId: tenant, hostId: host.id, processEntityId: view.process.entity_id, limit: MAX_ALERT_IDS }) : undefined,
    ]);
    return {
      host_id: host.id, hostname: host.hostname, process: view.process, ancestors, children, exec_chain: view.exec_chain, events,
      alerts: alerts?.alerts.map((a) => a.id) ?? [],
    };
  });
}
