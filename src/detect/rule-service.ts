// Rule management in the running server: the registry (built-in rules, rule directories, uploaded rules)
// kept in step with its persisted state (uploads and on/off switches survive restarts) and with the
// detection stage, which gets a new snapshot after every change (hot reload, correlation state of
// unchanged correlations kept). Also tries a rule text against given events without enabling it.

import type { VigilEvent } from '../schema/event.ts';
import type { RejectedRule } from '../sigma/ir.ts';
import type { RuleSource } from '../sigma/parser.ts';
import type { RuleStateStore } from '../stores/rules/sqlite.ts';
import type { Alert } from './alerts.ts';
import { Detector } from './engine.ts';
import { normalizeRecord } from './records.ts';
import { RuleRegistry, type ChangeResult, type RuleInfo } from './registry.ts';
import type { DetectionStage } from './stage.ts';

export interface RuleTestResult { matches: number; alerts: Alert[]; rejected: RejectedRule[] }

export class RuleService {
  private readonly registry: RuleRegistry;
  private readonly state: RuleStateStore;
  private readonly stage: DetectionStage;
  private readonly uploadKeyOf = new Map<string, string>(); // rule id → key of the upload holding it

  constructor(registry: RuleRegistry, state: RuleStateStore, stage: DetectionStage) {
    this.registry = registry;
    this.state = state;
    this.stage = stage;
  }

  /** Loads rule files and the persisted uploads and switches, then starts the stage on them. */
  load(builtin: RuleSource[], directories: RuleSource[]): { loaded: number; rejected: RejectedRule[] } {
    this.registry.setSources('builtin', builtin);
    this.registry.setSources('directory', directories);
    const rejected: RejectedRule[] = [];
    for (const { key, text } of this.state.uploads()) {
      const r = this.registry.add(text);
      if (r.ok) for (const id of r.ids) this.uploadKeyOf.set(id, key);
      else rejected.push(...r.rejected.map((x) => ({ ...x, reason: `stored upload ${key}: ${x.reason}` })));
    }
    for (const s of this.state.switches()) this.registry.setEnabled(s.ruleId, s.enabled);
    this.stage.reload(this.registry.snapshot());
    return { loaded: this.registry.list().length, rejected: [...this.registry.rejected(), ...rejected] };
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

  add(text: string): ChangeResult {
    const r = this.registry.add(text);
    if (r.ok) {
      const key = r.ids[0];
      this.state.saveUpload(key, text);
      for (const id of r.ids) this.uploadKeyOf.set(id, key);
      this.reload();
    }
    return r;
  }

  replace(id: string, text: string): ChangeResult {
    const r = this.registry.replace(id, text);
    if (r.ok) {
      const key = this.uploadKeyOf.get(id) ?? id;
      this.state.saveUpload(key, text);
      for (const rid of r.ids) this.uploadKeyOf.set(rid, key);
      this.reload();
    }
    return r;
  }

  delete(id: string): ChangeResult {
    const r = this.registry.delete(id);
    if (r.ok) {
      const key = this.uploadKeyOf.get(id) ?? id;
      this.state.deleteUpload(key);
      for (const rid of r.ids) this.uploadKeyOf.delete(rid);
      this.reload();
    }
    return r;
  }

  setEnabled(id: string, enabled: boolean): boolean {
    if (!this.registry.setEnabled(id, enabled)) return false;
    this.state.saveSwitch(id, enabled);
    this.reload();
    return true;
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
      if (n) alerts.push(...detector.detect(n, ev.agent?.tenant_id ?? ''));
    }
    return { matches: alerts.length, alerts, rejected: [] };
  }

  private reload(): void {
    this.stage.reload(this.registry.snapshot());
  }
}
