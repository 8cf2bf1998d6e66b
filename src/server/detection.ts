// The embedded server's detection side: its backends (the SQLite alert, incident and rule state stores in
// <data-dir>/detection.db, listeners told of new alerts: the live feed of the console, webhooks, automated
// response) for `assembleDetection` (src/server/assembly.ts), which the workers use with theirs. Also the rule
// loading both deployments share. Owns <data-dir>/detection.db.

import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { loadCompileOptions, loadRuleSources } from '../detect/loader.ts';
import { RuleRegistry } from '../detect/registry.ts';
import { RuleService } from '../detect/rule-service.ts';
import type { AlertSink } from '../detect/alerts.ts';
import type { LiveProcessIndex } from '../tree/live-index.ts';
import { SqliteAlertStore } from '../stores/alerts/sqlite.ts';
import type { AlertStore, StoredAlert } from '../stores/alerts/types.ts';
import type { EventStore } from '../stores/events/types.ts';
import type { MetadataStore } from '../stores/metadata/types.ts';
import { SqlRuleStateStore } from '../stores/rules/sql-rule-state-store.ts';
import { openSqliteDb } from '../stores/sql/sqlite-db.ts';
import { assembleDetection, listenerAnnouncement } from './assembly.ts';
import type { PipelineStage } from './pipeline.ts';
import { SqliteIncidentStore } from '../stores/incidents/sqlite.ts';
import type { IncidentStore } from '../stores/incidents/types.ts';

export const BUILTIN_RULES_DIR = fileURLToPath(new URL('../../rules/builtin', import.meta.url));

export interface DetectionOptions {
  dataDir: string;
  log: Logger;
  /** Directories (or files) of Sigma rules loaded besides the built-ins, e.g. a SigmaHQ checkout. */
  ruleDirs?: string[];
  /** YAML map of placeholder values for rules that use `%placeholders%`. */
  placeholders?: string;
  /** Where the process index is seeded from at start: every known host's live processes in the event store. */
  seedFrom: { metadata: Pick<MetadataStore, 'listTenants' | 'listHosts'>; events: Pick<EventStore, 'processNodes'> };
}

export interface Detection {
  stage: PipelineStage;
  rules: RuleService;
  alerts: AlertStore;
  /** Incidents (alerts grouped by lineage), in detection.db beside the alerts. */
  incidents: IncidentStore;
  /** The process index the detection stage keeps current and takes alert lineage from (seeded from the store). */
  processes: LiveProcessIndex;
  /** Where the detection stage's alerts go (stored, grouped, announced): the intel stage alerts through it too. */
  sink: AlertSink;
  /** Listeners called with every newly stored alert. */
  onAlert(listener: (a: StoredAlert) => void): void;
  close(): Promise<void>;
}

/** The registry of a server process's rules (compile options with the placeholders). */
export function ruleRegistry(o: Pick<DetectionOptions, 'placeholders'>): RuleRegistry {
  return new RuleRegistry(loadCompileOptions({ placeholders: o.placeholders }));
}

/** Loads the built-ins and `ruleDirs` (and the service's persisted state) into `rules`; logs what was rejected. */
export function loadRules(rules: RuleService, o: Pick<DetectionOptions, 'log' | 'ruleDirs' | 'placeholders'>): void {
  const { loaded, rejected } = rules.load(loadRuleSources([BUILTIN_RULES_DIR]), o.ruleDirs?.length ? loadRuleSources(o.ruleDirs) : []);
  o.log.info({ loaded, rejected: rejected.length }, 'detection rules loaded');
  for (const r of rejected.slice(0, 20)) o.log.warn({ rule: r.id, file: r.file, line: r.line, reason: r.reason }, 'rule rejected');
}

/** Embedded's backends of the detection side (src/server/assembly.ts, `assembleDetection`): SQLite, in-process listeners. */
export async function startDetection(o: DetectionOptions): Promise<Detection> {
  const path = join(o.dataDir, 'detection.db');
  const alerts = new SqliteAlertStore(path);
  await alerts.migrate();
  const incidents = new SqliteIncidentStore(path);
  await incidents.migrate();
  const state = await SqlRuleStateStore.open(openSqliteDb(path));
  const announcement = listenerAnnouncement();
  const d = await assembleDetection({
    alerts, incidents, announcement, events: o.seedFrom.events, seeding: { atStart: o.seedFrom.metadata },
    rules: async (stage) => {
      const rules = new RuleService(ruleRegistry(o), state, stage);
      loadRules(rules, o);
      return { rules, stop: async () => {} };
    },
    async close() {
      state.close();
      await incidents.close();
      await alerts.close();
    },
  }, o.log);
  return { stage: d.stage, rules: d.rules, alerts, incidents, processes: d.processes, sink: d.sink, onAlert: announcement.onAlert, close: () => d.close() };
}
