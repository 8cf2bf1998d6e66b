// The detection stage of the server pipeline (shape of src/server/pipeline.ts's PipelineStage): maps each
// stored VigilEvent to its Sigma logsource (Vigil Linux events by event.type; imported Windows events by
// channel and event id), skips the events of Vigil's own processes and the agents' start-up snapshots, keeps
// the process index current and captures each alert's process lineage from it, runs the detector (single-event rules and host-partitioned correlations) and
// writes the alerts to an AlertSink. Hot reload swaps the rule snapshot between batches and keeps the state
// of unchanged correlations. Events it cannot classify are counted, never fatal. Before the batch is stored, `tag`
// matches the single-event rules and puts the matched rules' MITRE techniques on each event (`threat.mitre`, stored
// with it); `process` then makes the alerts from those matches (made once) when the rules did not change meanwhile.

import { isExemptFromDetection, type VigilEvent } from '../schema/event.ts';
import type { LiveProcessIndex } from '../tree/live-index.ts';
import type { Alert, AlertSink } from './alerts.ts';
import { Detector } from './engine.ts';
import type { RuleSnapshot } from './engine.ts';
import { normalizeRecord, type Normalized } from './records.ts';
import type { Detection } from './ruleset.ts';

/** The technique ids on the event's `threat.mitre`, with those it had, sorted and once each. */
function addTechniques(ev: VigilEvent, ids: string[]): void {
  if (ids.length === 0) return;
  ev.threat = { ...ev.threat, mitre: [...new Set([...(ev.threat?.mitre ?? []), ...ids])].sort() };
}

export interface DetectionCounters { events: number; unclassified: number; exempt: number; alerts: number }

export class DetectionStage {
  readonly name = 'detection';
  readonly counters: DetectionCounters = { events: 0, unclassified: 0, exempt: 0, alerts: 0 };
  private detector: Detector;
  private readonly sink: AlertSink;
  private readonly processes: LiveProcessIndex | undefined;
  /** The matches `tag` made, by event, with the detector that made them. */
  private readonly matched = new WeakMap<VigilEvent, { detector: Detector; n: Normalized; matches: Detection[] }>();

  /** `processes`: the index this stage keeps current from the events, whose lineage every alert captures. */
  constructor(snapshot: RuleSnapshot, sink: AlertSink, processes?: LiveProcessIndex) {
    this.detector = new Detector(snapshot, undefined);
    this.sink = sink;
    this.processes = processes;
  }

  /** Replaces the rules; correlation state of unchanged correlation rules is kept. */
  reload(snapshot: RuleSnapshot): void {
    this.detector = new Detector(snapshot, this.detector);
  }

  /** Open correlation groups per correlation id. */
  correlationGroups(): Record<string, number> {
    return this.detector.correlations.groupCounts();
  }

  /** Before storage: each event's single-event rule matches, kept for `process`, and their techniques on the event. */
  tag(events: VigilEvent[]): void {
    const detector = this.detector;
    for (const ev of events) {
      if (isExemptFromDetection(ev)) continue;
      const n = normalizeRecord(ev);
      if (!n) continue;
      const matches = detector.ruleSet.match(n.record, n.logsource);
      this.matched.set(ev, { detector, n, matches });
      if (matches.length) addTechniques(ev, matches.flatMap((m) => m.rule.mitre));
    }
  }

  async process(events: VigilEvent[]): Promise<void> {
    const detector = this.detector;
    this.processes?.apply(events);
    const alerts: Alert[] = [];
    for (const ev of events) {
      this.counters.events++;
      if (isExemptFromDetection(ev)) { this.counters.exempt++; continue; }
      const tagged = this.matched.get(ev);
      const n = tagged?.n ?? normalizeRecord(ev);
      if (!n) { this.counters.unclassified++; continue; }
      // Tenant and host are the reporting agent's (stamped by ingest from its certificate), never the event's own.
      for (const a of detector.detect(n, ev.agent?.tenant_id ?? '', ev.agent?.id, tagged?.detector === detector ? tagged.matches : undefined)) alerts.push(a);
    }
    if (alerts.length === 0) return;
    this.counters.alerts += alerts.length;
    for (const a of alerts) this.addLineage(a);
    await this.sink.write(alerts);
  }

  private addLineage(a: Alert): void {
    if (!this.processes || !a.host_id || !a.process_entity_id) return;
    const lineage = this.processes.lineage(a.tenant_id, a.host_id, a.process_entity_id);
    if (lineage) Object.assign(a, lineage);
  }
}
