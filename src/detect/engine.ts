// The detector: single-event rules (RuleSet) plus correlations (CorrelationEngine) turned into alerts,
// shared by the pipeline stage and `vigil scan` so both give the same matches. Replacing the rule set keeps
// the compiled predicates of unchanged rules and the state of unchanged correlations. An alert of a rule that
// names a response carries the rule's owner (RuleSnapshot.owners), which decides where the response may run. Pure.

import type { CorrelationIR, RuleIR } from '../sigma/ir.ts';
import { correlationAlert, singleEventAlert } from './alerts.ts';
import type { Alert, RuleOwner } from './alerts.ts';
import { CorrelationEngine, eventInput } from './correlation.ts';
import type { Normalized } from './records.ts';
import { eventIdOf, eventTime, hostOf, processEntityOf } from './records.ts';
import { RuleSet, type Detection } from './ruleset.ts';

/** A compiled, consistent set of rules to detect with, and who owns each rule that names a response. */
export interface RuleSnapshot { rules: RuleIR[]; correlations: CorrelationIR[]; owners?: ReadonlyMap<string, RuleOwner> }

export class Detector {
  readonly ruleSet: RuleSet;
  readonly correlations: CorrelationEngine;
  private readonly suppressed: Set<string>;
  private readonly owners: ReadonlyMap<string, RuleOwner>;
  private lastTime = 0;

  constructor(snapshot: RuleSnapshot, previous?: Detector) {
    this.owners = snapshot.owners ?? new Map();
    this.ruleSet = new RuleSet(snapshot.rules);
    this.correlations = new CorrelationEngine(snapshot.correlations.filter((c) => c.enabled), previous?.correlations);
    this.suppressed = this.correlations.suppressed();
    this.lastTime = previous?.lastTime ?? 0;
  }

  /**
   * Alerts for one normalised event of `tenant`. `reporter` is the agent that sent it (from its certificate, in
   * the server): the alerts' host, whatever host the event itself names; without it (files given to `vigil
   * scan`) the event's own host is taken. `matches`: the event's single-event rule matches when already made by
   * this detector's rule set (DetectionStage.tag, before the event was stored).
   */
  detect(n: Normalized, tenant: string, reporter?: string, matches: Detection[] = this.ruleSet.match(n.record, n.logsource)): Alert[] {
    if (matches.length === 0) return [];
    const rec = n.record;
    const time = eventTime(rec, this.lastTime);
    this.lastTime = time;
    const eventId = eventIdOf(rec);
    const host = reporter ?? hostOf(rec);
    const out: Alert[] = [];
    for (const { rule } of matches) {
      if (!this.suppressed.has(rule.id)) {
        out.push(this.owned(singleEventAlert(rule, rec, { tenant, host, processEntity: processEntityOf(rec), eventId, time })));
      }
      if (this.correlations.wants(rule.id)) {
        for (const m of this.correlations.add(eventInput(rule.id, tenant, host ?? '', time, eventId, rec))) out.push(correlationAlert(m));
      }
    }
    return out;
  }

  /** Stamps the owner of the alert's rule on an alert that names a response (none recorded: none stamped). */
  private owned(a: Alert): Alert {
    const owner = a.rule.response ? this.owners.get(a.rule.id) : undefined;
    if (owner) a.rule.owner = owner;
    return a;
  }

  /** Decides open correlation windows (end of a scan). */
  flush(): Alert[] {
    return this.correlations.flush().map(correlationAlert);
  }
}
