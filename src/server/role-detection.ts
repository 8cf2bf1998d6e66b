// Detection in the scale-out roles. Rules come from the rule directories (built-ins plus `--rule-dirs`),
// the same files on every worker and API process, so every process holds the same rule set; in these roles
// rules are read-only (changing one = changing the directories and rolling the processes; uploads and
// on/off switches are refused with 409). A worker runs the detection stage as a required pipeline stage on
// its host partitions (each host's events reach one worker, so per-host correlation state is what a single
// worker would hold); its alerts are written to the PostgreSQL alert store (deduplicated by their
// deterministic id) and then published on `alerts.<tenant>` with the alert id as message id. A failed write
// or publish fails the batch, which is redelivered: the store keeps one row per id and JetStream drops the
// repeated message ids within its duplicate window, so a replay neither loses nor doubles an alert.

import type { Logger } from 'pino';
import type { Bus } from '../bus/types.ts';
import type { Alert, AlertSink } from '../detect/alerts.ts';
import { RuleService } from '../detect/rule-service.ts';
import { DetectionStage } from '../detect/stage.ts';
import type { ChangeResult } from '../detect/registry.ts';
import type { AlertStore, StoredAlert } from '../stores/alerts/types.ts';
import type { RuleStateStore } from '../stores/rules/sqlite.ts';
import { loadRules, ruleRegistry } from './detection.ts';
import type { PipelineStage } from './pipeline.ts';

export interface RoleRuleOptions {
  log: Logger;
  ruleDirs: string[];
  placeholders?: string;
}

const READ_ONLY_REASON = 'rules are read-only in the scale-out roles: change the rule directories (--rule-dirs) and restart the workers and API processes';

/** Rule state with no uploads and no switches: the directories are the whole truth. */
const NO_RULE_STATE: RuleStateStore = {
  uploads: () => [], switches: () => [], saveUpload() {}, deleteUpload() {}, saveSwitch() {}, close() {},
};

/** The rule service of the scale-out roles: lists, shows and dry-runs rules; refuses every change. */
class ReadOnlyRuleService extends RuleService {
  override add(): ChangeResult { return refused(); }
  override replace(): ChangeResult { return refused(); }
  override delete(): ChangeResult { return refused(); }
  override setEnabled(): boolean {
    throw Object.assign(new Error(READ_ONLY_REASON), { statusCode: 409, code: 'read_only' });
  }
}

function refused(): ChangeResult {
  return { ok: false, status: 'read_only', rejected: [{ reason: READ_ONLY_REASON }] };
}

function loadReadOnlyRules(stage: DetectionStage, o: RoleRuleOptions): ReadOnlyRuleService {
  const rules = new ReadOnlyRuleService(ruleRegistry(o), NO_RULE_STATE, stage);
  loadRules(rules, o);
  return rules;
}

/** The API process's rules: the same directories as the workers, read-only. */
export function apiRules(o: RoleRuleOptions): RuleService {
  return loadReadOnlyRules(new DetectionStage({ rules: [], correlations: [] }, { write: async () => {} }), o);
}

/** Stores the alerts, then publishes each (new or already stored: a redelivered batch) on its tenant's subject. */
export function storeAndPublishSink(alerts: AlertStore, bus: Bus<StoredAlert>): AlertSink {
  return {
    async write(batch: Alert[]) {
      const fresh = new Map((await alerts.write(batch)).map((a) => [a.id, a]));
      const views = await Promise.all(batch.map(async (a) => fresh.get(a.id) ?? await alerts.get(a.tenant_id, a.id)));
      await Promise.all(views.filter((a) => a !== undefined).map((a) => bus.publish({ subject: `alerts.${a.tenant_id}`, id: a.id, payload: a })));
    },
  };
}

/** The worker's detection stage (required: its failure fails the batch) and its rules. */
export function workerDetection(sink: AlertSink, o: RoleRuleOptions): { stage: PipelineStage; detection: DetectionStage } {
  const detection = new DetectionStage({ rules: [], correlations: [] }, sink);
  loadReadOnlyRules(detection, o);
  return { detection, stage: { name: detection.name, required: true, process: (events) => detection.process(events) } };
}
