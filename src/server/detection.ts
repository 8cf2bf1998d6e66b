// The detection side of a server process: the alert store, the rule registry with its persisted state,
// the detection stage of the pipeline, and the sink that stores new alerts and tells listeners (the live
// feed of the console, automated response) about them. Owns <data-dir>/detection.db.

import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Alert, AlertSink } from '../detect/alerts.ts';
import { loadCompileOptions, loadRuleSources } from '../detect/loader.ts';
import { RuleRegistry } from '../detect/registry.ts';
import { RuleService } from '../detect/rule-service.ts';
import { DetectionStage } from '../detect/stage.ts';
import type { LiveProcessIndex } from '../tree/live-index.ts';
import { SqliteAlertStore } from '../stores/alerts/sqlite.ts';
import { isDeliverable, type AlertStore, type StoredAlert } from '../stores/alerts/types.ts';
import { SqliteRuleStateStore } from '../stores/rules/sqlite.ts';
import { groupStored, storedViews } from './incident-assign.ts';
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
  /** The process index the detection stage keeps current and takes alert lineage from. */
  processes?: LiveProcessIndex;
}

export interface Detection {
  stage: DetectionStage;
  rules: RuleService;
  alerts: AlertStore;
  /** Incidents (alerts grouped by lineage), in detection.db beside the alerts. */
  incidents: IncidentStore;
  /** Listeners called with every newly stored alert. */
  onAlert(listener: (a: StoredAlert) => void): void;
  close(): Promise<void>;
}

/** The registry of a server process's rules (compile options with the placeholders). */
export function ruleRegistry(o: Pick<DetectionOptions, 'placeholders'>): RuleRegistry {
  return new RuleRegistry(loadCompileOptions({ placeholders: o.placeholders }));
}

/** Loads the built-ins and `ruleDirs` (and the service's persisted state) into `rules`; logs what was rejected. */
export function loadRules(rules: RuleService, o: Omit<DetectionOptions, 'dataDir'>): void {
  const { loaded, rejected } = rules.load(loadRuleSources([BUILTIN_RULES_DIR]), o.ruleDirs?.length ? loadRuleSources(o.ruleDirs) : []);
  o.log.info({ loaded, rejected: rejected.length }, 'detection rules loaded');
  for (const r of rejected.slice(0, 20)) o.log.warn({ rule: r.id, file: r.file, line: r.line, reason: r.reason }, 'rule rejected');
}

export async function startDetection(o: DetectionOptions): Promise<Detection> {
  const path = join(o.dataDir, 'detection.db');
  const alerts = new SqliteAlertStore(path);
  await alerts.migrate();
  const incidents = new SqliteIncidentStore(path);
  await incidents.migrate();
  const state = new SqliteRuleStateStore(path);
  const listeners: ((a: StoredAlert) => void)[] = [];
  const sink: AlertSink = {
    async write(batch: Alert[]) {
      const fresh = await alerts.write(batch);
      // Incidents: every stored alert of the batch is grouped (a failure is logged; detection goes on).
      await groupStored(incidents, await storedViews(alerts, batch, fresh)).catch((err: unknown) => o.log.error({ err }, 'alerts not grouped into incidents'));
      // New alerts only, and not the excepted ones (stored, visible with status=excepted, never delivered).
      for (const a of fresh.filter(isDeliverable)) for (const l of listeners) l(a);
    },
  };
  const stage = new DetectionStage({ rules: [], correlations: [] }, sink, o.processes);
  const rules = new RuleService(ruleRegistry(o), state, stage);
  loadRules(rules, o);
  return {
    stage, rules, alerts, incidents,
    onAlert: (l) => { listeners.push(l); },
    async close() {
      state.close();
      await incidents.close();
      await alerts.close();
    },
  };
}
