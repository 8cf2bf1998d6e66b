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
import type { RuleStateStore, RuleWrite } from './rule-state.ts';
import type { Alert } from './alerts.ts';
import { Detector } from './engine.ts';
import { eventTypesFor, rulesCoverage, type RuleCoverage } from './logsources.ts';
import { normalizeRecord } from './records.ts';
import { RuleRegistry, type ChangeResult, type RuleInfo } from './registry.ts';
import type { DetectionStage } from './stage.ts';

export interface RuleTestResult { matches: number; alerts: Alert[]; rejected: RejectedRule[] }

/** One page of stored events, newest first, and the keyset cursor of the next (older) page. */
export type EventPager = (cursor: string | undefined, types: string[] | undefined) => Promise<{ events: VigilEvent[]; next: string | null }>;

export interface RuleScanOptions {
  /** Reads the range page by page, newest first (the event store's keyset cursor). */
  page: EventPager;
  /** Stop starting new pages once this much time has passed (the page in hand is finished). */
  budgetMs: number;
  /** Alerts kept in the result (all are counted). Default 100. */
  keepAlerts?: number;
  now?: () => number;
}

/** A dry run over a stored range: what was scanned, and whether it stopped at its time budget before the range's start. */
export interface RuleScanResult extends RuleTestResult {
  eventsScanned: number;
  pages: number;
  /** The event types read (the rule's logsources); undefined: every type. */
  eventTypes: string[] | undefined;
  /** Every page of the range was read. */
  complete: boolean;
  /** The budget ran out before the range was read to its start. */
  stoppedAtBudget: boolean;
  /** The time of the oldest event read (complete or not), ISO 8601; undefined when none. */
  oldestScanned?: string;
  newestScanned?: string;
  elapsedMs: number;
}

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
  private coverageCache: { registry: RuleRegistry; revision: number; map: Map<string, RuleCoverage> } | undefined;

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

  /**
   * Runs a rule text (not loaded, not enabled) over stored events, page by page from the newest, until the range is
   * read or `budgetMs` has passed; only events of the types its logsources can match are read. Each page is detected
   * in time order (oldest first) and correlations keep their state across pages; open correlation windows are decided
   * at the end.
   */
  async scan(text: string, o: RuleScanOptions): Promise<RuleScanResult> {
    const started = (o.now ?? Date.now)();
    const elapsed = () => (o.now ?? Date.now)() - started;
    const trial = new RuleRegistry(this.registry.options);
    const r = trial.add(text);
    const empty = { matches: 0, alerts: [], eventsScanned: 0, pages: 0, complete: true, stoppedAtBudget: false, eventTypes: [] as string[] | undefined };
    if (!r.ok) return { ...empty, rejected: r.rejected, elapsedMs: elapsed() };
    const snapshot = trial.snapshot();
    const typeLists = snapshot.rules.map((x) => eventTypesFor(x.logsource));
    const eventTypes = typeLists.some((t) => t === undefined) ? undefined : [...new Set(typeLists.flatMap((t) => t!))].sort();
    const result: RuleScanResult = { ...empty, eventTypes, rejected: [], complete: false, elapsedMs: 0 };
    const keep = o.keepAlerts ?? 100;
    const detector = new Detector(snapshot);
    const take = (alerts: Alert[]) => {
      result.matches += alerts.length;
      for (const a of alerts) if (result.alerts.length < keep) result.alerts.push(a);
    };
    if (eventTypes && eventTypes.length === 0) { // no stored event can match: nothing to read
      result.complete = true;
      result.elapsedMs = elapsed();
      return result;
    }
    let cursor: string | undefined;
    for (;;) {
      const page = await o.page(cursor, eventTypes);
      result.pages++;
      result.eventsScanned += page.events.length;
      if (page.events.length) {
        result.newestScanned ??= page.events[0]['@timestamp'];
        result.oldestScanned = page.events[page.events.length - 1]['@timestamp'];
      }
      for (let i = page.events.length - 1; i >= 0; i--) { // oldest first within the page
        const ev = page.events[i];
        const n = normalizeRecord(ev);
        if (n) take(detector.detect(n, ev.agent?.tenant_id ?? '', ev.agent?.id)); // as the pipeline stage: the reporting agent's host
      }
      if (!page.next) { result.complete = true; break; }
      if (elapsed() >= o.budgetMs) { result.stoppedAtBudget = true; break; }
      cursor = page.next;
    }
    take(detector.flush());
    result.elapsedMs = elapsed();
    return result;
  }

  /** Whether Vigil collects what each loaded rule needs (collected, partial, not_collected) and why. */
  coverage(): Map<string, RuleCoverage> {
    const c = this.coverageCache;
    if (c && c.registry === this.registry && c.revision === this.registry.revision) return c.map;
    const list = this.registry.list();
    const correlations = list.filter((x) => x.kind === 'correlation').map((x) => {
      const ir = this.registry.get(x.id)?.ir;
      return { id: x.id, rules: ir && 'rules' in ir ? ir.rules : [] };
    });
    const map = rulesCoverage(list.filter((x) => x.kind === 'rule'), correlations);
    this.coverageCache = { registry: this.registry, revision: this.registry.revision, map };
    return map;
  }

  private reload(): void {
    this.stage.reload(this.registry.snapshot());
  }
}

/** The persisted part of a writer (tenant and principal). */
function writeOf(by: RuleWrite): RuleWrite {
  return { tenantId: by.tenantId, actor: by.actor };
}
