// Rule management in the running server: the registry (built-in rules, rule directories, uploaded rules)
// kept in step with its persisted state (uploads and on/off switches survive restarts) and with the
// detection stage, which gets a new snapshot after every change (hot reload, correlation state of
// unchanged correlations kept). A change is answered only once its state is persisted; if persisting fails
// the registry is rebuilt from the state as it stands. `resync()` rebuilds the registry from the state store
// (rule files as loaded, then the stored uploads and switches): how a scale-out process applies a change
// another process made. Also tries a rule text against given events without enabling it.
// Every write names its writer (tenant and principal), persisted with it: an uploaded rule belongs to the writer's
// tenant (its automated response runs only there), and a text naming a response is refused (`forbidden`) unless
// the writer may respond (`ir:execute`).

import type { VigilEvent } from '../schema/event.ts';
import type { RejectedRule } from '../sigma/ir.ts';
import type { RuleSource } from '../sigma/parser.ts';
import type { RuleStateStore, RuleWrite } from '../stores/rules/types.ts';
import type { Alert } from './alerts.ts';
import { Detector } from './engine.ts';
import { normalizeRecord } from './records.ts';
import { RuleRegistry, type ChangeResult, type RuleInfo } from './registry.ts';
import type { DetectionStage } from './stage.ts';

export interface RuleTestResult { matches: number; alerts: Alert[]; rejected: RejectedRule[] }

/** Who writes: the principal's tenant (the owner of what it uploads), its ledger name, and whether it may respond. */
export interface RuleWriter extends RuleWrite {
  /** The writer holds `ir:execute`: only then may a rule it writes name an automated response. */
  mayRespond: boolean;
}

export class RuleService {
  private registry: RuleRegistry;
  private readonly state: RuleStateStore;
  private readonly stage: DetectionStage;
  private uploadKeyOf = new Map<string, string>(); // rule id → key of the upload holding it
  private files: { builtin: RuleSource[]; directories: RuleSource[] } = { builtin: [], directories: [] };

  constructor(registry: RuleRegistry, state: RuleStateStore, stage: DetectionStage) {
    this.registry = registry;
    this.state = state;
    this.stage = stage;
  }

  /** Loads rule files and the persisted uploads and switches, then starts the stage on them. */
  load(builtin: RuleSource[], directories: RuleSource[]): { loaded: number; rejected: RejectedRule[] } {
    this.files = { builtin, directories };
    return this.build(this.registry);
  }

  /** Rebuilds the registry from the rule files and the state store as it stands now; restarts the stage on it. */
  resync(): { loaded: number; rejected: RejectedRule[] } {
    return this.build(new RuleRegistry(this.registry.options));
  }

  private build(registry: RuleRegistry): { loaded: number; rejected: RejectedRule[] } {
    registry.setSources('builtin', this.files.builtin);
    registry.setSources('directory', this.files.directories);
    const rejected: RejectedRule[] = [];
    const uploadKeyOf = new Map<string, string>();
    for (const { key, text, tenantId } of this.state.uploads()) {
      const r = registry.add(text, { owner: tenantId });
      if (r.ok) for (const id of r.ids) uploadKeyOf.set(id, key);
      else rejected.push(...r.rejected.map((x) => ({ ...x, reason: `stored upload ${key}: ${x.reason}` })));
    }
    for (const s of this.state.switches()) registry.setEnabled(s.ruleId, s.enabled);
    this.registry = registry;
    this.uploadKeyOf = uploadKeyOf;
    this.reload();
    return { loaded: registry.list().length, rejected: [...registry.rejected(), ...rejected] };
  }

  list(): RuleInfo[] {
    return this.registry.list();
  }

  rejected(): RejectedRule[] {
    return this.registry.rejected();
  }

  get(id: string) {
    return this.registry.get(id);
  }

  async add(text: string, by: RuleWriter): Promise<ChangeResult> {
    const r = this.registry.add(text, { owner: by.tenantId, mayRespond: by.mayRespond });
    if (r.ok) {
      const key = r.ids[0];
      for (const id of r.ids) this.uploadKeyOf.set(id, key);
      await this.persist(() => this.state.saveUpload(key, text, writeOf(by)));
    }
    return r;
  }

  async replace(id: string, text: string, by: RuleWriter): Promise<ChangeResult> {
    const r = this.registry.replace(id, text, { owner: by.tenantId, mayRespond: by.mayRespond });
    if (r.ok) {
      const key = this.uploadKeyOf.get(id) ?? id;
      for (const rid of r.ids) this.uploadKeyOf.set(rid, key);
      await this.persist(() => this.state.saveUpload(key, text, writeOf(by)));
    }
    return r;
  }

  async delete(id: string): Promise<ChangeResult> {
    const r = this.registry.delete(id);
    if (r.ok) {
      const key = this.uploadKeyOf.get(id) ?? id;
      for (const rid of r.ids) this.uploadKeyOf.delete(rid);
      await this.persist(() => this.state.deleteUpload(key));
    }
    return r;
  }

  async setEnabled(id: string, enabled: boolean, by?: RuleWrite): Promise<boolean> {
    if (!this.registry.setEnabled(id, enabled)) return false;
    await this.persist(() => this.state.saveSwitch(id, enabled, by && writeOf(by)));
    return true;
  }

  /** Persists a change the registry already holds, then runs it; on failure goes back to the stored state. */
  private async persist(write: () => void | Promise<void>): Promise<void> {
    try {
      await write();
    } catch (err) {
      this.resync();
      throw err;
    }
    this.reload();
  }

  /** Runs a rule text (not loaded, not enabled) over `events`; the rule text must compile whole. */
  test(text: string, events: VigilEvent[]): RuleTestResult {
    const trial = new RuleRegistry(this.registry.options);
    const r = trial.add(text);
    if (!r.ok) return { matches: 0, alerts: [], rejected: r.rejected };
    const detector = new Detector(trial.snapshot());
    const alerts: Alert[] = [];
    for (const ev of events) {
      const n = normalizeRecord(ev);
      if (n) alerts.push(...detector.detect(n, ev.agent?.tenant_id ?? '', ev.agent?.id)); // as the pipeline stage: the reporting agent's host
    }
    return { matches: alerts.length, alerts, rejected: [] };
  }

  private reload(): void {
    this.stage.reload(this.registry.snapshot());
  }
}

/** The persisted part of a writer (tenant and principal). */
function writeOf(by: RuleWrite): RuleWrite {
  return { tenantId: by.tenantId, actor: by.actor };
}
