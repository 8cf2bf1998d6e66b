// Detection in the scale-out roles. A worker runs the detection side of `assembleDetection` (src/server/assembly.ts,
// as embedded does) with its backends: the detection stage is a required pipeline stage on its host partitions
// (each host's events reach one worker at a time, so per-host correlation state and the process index are what a
// single worker would hold; a host's live processes are seeded from the event store when its events first reach
// the worker); its alerts are written to the PostgreSQL alert store (deduplicated by their
// deterministic id) and then published on `alerts.<tenant>` with the alert id as message id. A failed write
// or publish fails the batch, which is redelivered: the store keeps one row per id and JetStream drops the
// repeated message ids within its duplicate window, so a replay neither loses nor doubles an alert.
//
// Rules: the rule directories (the same files on every process) plus the shared rule state in PostgreSQL
// (uploads and on/off switches). The API process that takes a change persists it (one transaction that
// bumps the state's revision), runs it, and announces it on `rules._platform` (the rule set is one for the
// whole deployment, managed by the platform's tenant, as embedded). Every worker and API process follows that
// subject with its own consumer (a broadcast, not a work queue) and, on each notice, re-reads the state and
// rebuilds its rules when the revision moved. A process loads the state at start, then follows, then checks
// again, and re-checks every 30 s: a lost notice delays a change, never makes processes diverge.

import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { Bus, BusMessage, Subscription } from '../bus/types.ts';
import type { ChangeResult, RuleRegistry } from '../detect/registry.ts';
import { RuleService, type RuleWriter } from '../detect/rule-service.ts';
import { DetectionStage } from '../detect/stage.ts';
import { PLATFORM_TENANT } from '../identity/permissions.ts';
import type { AlertStore, StoredAlert } from '../stores/alerts/types.ts';
import type { EventStore } from '../stores/events/types.ts';
import { SqlRuleStateStore } from '../stores/rules/sql-rule-state-store.ts';
import { openPostgresDb } from '../stores/sql/postgres-db.ts';
import type { RuleWrite } from '../detect/rule-state.ts';
import { loadRules, ruleRegistry } from './detection.ts';
import { assembleDetection, busAnnouncement, type AssembledDetection, type DetectionBackends } from './assembly.ts';
import type { IncidentStore } from '../stores/incidents/types.ts';
import { registry as metrics } from './metrics.ts';

export interface RoleRuleOptions {
  log: Logger;
  ruleDirs: string[];
  placeholders?: string;
}

/** Rule changes travel on the platform tenant's subject: the rule set is shared by every tenant. */
export const RULES_SUBJECT = `rules.${PLATFORM_TENANT}`;
const RECHECK_MS = 30_000;

const appliedRevision = new Gauge({
  name: 'vigil_rule_state_revision', help: 'Revision of the shared rule state (uploads, switches) this process runs, by role',
  labelNames: ['role'], registers: [metrics],
});

/** What the shared rules need of the bus: announce a change, follow everyone's. */
export interface RuleBus {
  publish(msg: BusMessage<unknown>): Promise<void>;
  follow(filter: string, handler: (msg: BusMessage<unknown>) => Promise<void>): Promise<Subscription>;
}

/**
 * A rule service on the shared state: changes and catch-ups run one at a time, so the registry always
 * reflects the snapshot of the state store's revision; a change that finds the revision moved by more than
 * its own step (another process changed the state meanwhile) rebuilds from the stored state.
 */
export class SharedRuleService extends RuleService {
  private readonly shared: SqlRuleStateStore;
  private readonly bus: RuleBus;
  private readonly log: Logger;
  private readonly role: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(registry: RuleRegistry, state: SqlRuleStateStore, stage: DetectionStage, o: { bus: RuleBus; log: Logger; role: string }) {
    super(registry, state, stage);
    this.shared = state;
    this.bus = o.bus;
    this.log = o.log;
    this.role = o.role;
  }

  override add(text: string, by: RuleWriter): Promise<ChangeResult> {
    return this.change(() => super.add(text, by), (r) => r.ok);
  }

  override replace(id: string, text: string, by: RuleWriter): Promise<ChangeResult> {
    return this.change(() => super.replace(id, text, by), (r) => r.ok);
  }

  override delete(id: string): Promise<ChangeResult> {
    return this.change(() => super.delete(id), (r) => r.ok);
  }

  override setEnabled(id: string, enabled: boolean, by?: RuleWrite): Promise<boolean> {
    return this.change(() => super.setEnabled(id, enabled, by), (r) => r);
  }

  /** Re-reads the shared state; rebuilds the rules when its revision moved since this process last read it. */
  catchUp(): Promise<void> {
    return this.serial(async () => {
      if (!await this.shared.refresh()) return;
      const { rejected } = this.resync();
      this.applied();
      this.log.info({ revision: this.shared.revision, rejected: rejected.length }, 'shared rule state applied');
    });
  }

  /** Marks the revision this process now runs (on /metrics). */
  applied(): void {
    appliedRevision.set({ role: this.role }, this.shared.revision);
  }

  private change<T>(apply: () => Promise<T>, changed: (r: T) => boolean): Promise<T> {
    return this.serial(async () => {
      const before = this.shared.revision;
      const r = await apply();
      if (!changed(r)) return r;
      if (this.shared.revision !== before + 1) this.resync();
      this.applied();
      const revision = this.shared.revision;
      await this.bus.publish({ subject: RULES_SUBJECT, id: `rules-${revision}`, payload: { revision } })
        .catch((err: unknown) => this.log.warn({ err, revision }, 'rule change stored but not announced; processes pick it up at their next check'));
      return r;
    });
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

export interface SharedRules {
  rules: SharedRuleService;
  stop(): Promise<void>;
}

/** Opens the shared rule state, loads the rules into `stage` and follows the changes of other processes. */
export async function sharedRules(stage: DetectionStage, o: RoleRuleOptions & { postgres: string; bus: RuleBus; role: string }): Promise<SharedRules> {
  const state = await SqlRuleStateStore.open(openPostgresDb({ connectionString: o.postgres }));
  try {
    const rules = new SharedRuleService(ruleRegistry(o), state, stage, o);
    loadRules(rules, o);
    rules.applied();
    const subscription = await o.bus.follow(RULES_SUBJECT, () => rules.catchUp());
    await rules.catchUp(); // a change made between the load and the consumer's start
    const timer = setInterval(() => {
      rules.catchUp().catch((err: unknown) => o.log.warn({ err }, 'shared rule state check failed'));
    }, RECHECK_MS);
    timer.unref();
    return {
      rules,
      async stop() {
        clearInterval(timer);
        await subscription.stop();
        await state.close();
      },
    };
  } catch (err) {
    await state.close();
    throw err;
  }
}

/** The API process's rules: a stage that raises nothing (dry runs use their own detector), the shared state. */
export function apiRules(o: RoleRuleOptions & { postgres: string; bus: RuleBus }): Promise<SharedRules> {
  return sharedRules(new DetectionStage({ rules: [], correlations: [] }, { write: async () => {} }), { ...o, role: 'api' });
}

export interface WorkerDetectionOptions {
  alerts: AlertStore;
  incidents: IncidentStore;
  /** Where new alerts are published (`alerts.<tenant>`). */
  alertBus: Pick<Bus<StoredAlert>, 'publish'>;
  /** The event store the process index is seeded from. */
  events: Pick<EventStore, 'processNodes'>;
  /** The rule service over the stage: `sharedRules` (tests: a local one). */
  rules: DetectionBackends['rules'];
  /** The host partitions this worker consumes now with their lease terms, and a host's partition: hosts are forgotten and seeded again as their partitions move. */
  partitions?: () => ReadonlyMap<number, number>;
  partitionOf?: (tenant: string, host: string) => number;
  log: Logger;
}

/**
 * The worker's detection side (`assembleDetection`, as embedded's): its alerts stored in the shared alert store,
 * grouped, and published on `alerts.<tenant>`; the stage is required (its failure fails the batch, redelivered).
 * Each host's events reach one worker at a time: its process index holds the lineage of the hosts it detects for,
 * each seeded from the event store when its events first reach this worker (after a restart, or a partition taken
 * over), so an alert's lineage includes the processes started before.
 */
export function workerDetection(o: WorkerDetectionOptions): Promise<AssembledDetection> {
  return assembleDetection({
    alerts: o.alerts, incidents: o.incidents, announcement: busAnnouncement(o.alertBus), rules: o.rules, events: o.events,
    seeding: { onFirstSight: { partitions: o.partitions, partitionOf: o.partitionOf } },
  }, o.log);
}
