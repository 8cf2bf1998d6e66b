// Risk scoring, seed 002 §11 exactly:
//   score         = base_score × mitre_mult × recency_decay
//   base_score    = Σ (alert_severity_weight × count) / max_alerts_per_host   (critical 10, high 5, medium 2, low 1)
//   mitre_mult    = 1 + 0.1 × unique MITRE techniques of the subject's alerts in the last 24 h
//   recency_decay = 1.0 if the last alert < 1 h ago, 0.8 if < 24 h, else 0.5
// `max_alerts_per_host` is the largest number of counted alerts any host (user, for user scores) of the tenant has,
// so the base is the subject's weighted alerts relative to the busiest subject (docs/intel.md, "Risk"). A subject
// without alerts scores 0. Pure.

export const SEVERITY_WEIGHTS: Readonly<Record<string, number>> = { critical: 10, high: 5, medium: 2, low: 1 };
export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** What the formula needs of one alert. */
export interface RiskAlert {
  level: string;
  /** MITRE technique ids the alert carries. */
  techniques: readonly string[];
  /** Its last occurrence (epoch ms). */
  lastSeen: number;
}

export interface RiskBreakdown {
  score: number;
  base_score: number;
  weighted_alerts: number;
  max_alerts_per_subject: number;
  alerts: number;
  by_severity: Record<string, number>;
  mitre_mult: number;
  techniques_24h: string[];
  recency_decay: number;
  last_alert: string | null;
}

export const weightOf = (level: string): number => SEVERITY_WEIGHTS[level] ?? 0;

/** The recency decay of a subject whose last alert was at `lastAlert` (epoch ms). */
export function recencyDecay(lastAlert: number, now: number): number {
  const age = now - lastAlert;
  if (age < HOUR_MS) return 1.0;
  if (age < DAY_MS) return 0.8;
  return 0.5;
}

const round = (v: number): number => Math.round(v * 1000) / 1000;

/** The subject's score and its parts; `maxAlerts`: the tenant's largest per-subject alert count. */
export function riskScore(alerts: Iterable<RiskAlert>, maxAlerts: number, now: number): RiskBreakdown {
  const bySeverity: Record<string, number> = { critical: 0, high: 0, medium: 0, low: 0 };
  const techniques = new Set<string>();
  let weighted = 0;
  let count = 0;
  let last = -Infinity;
  for (const a of alerts) {
    count++;
    weighted += weightOf(a.level);
    if (a.level in bySeverity) bySeverity[a.level]++;
    if (a.lastSeen > last) last = a.lastSeen;
    if (now - a.lastSeen < DAY_MS) for (const t of a.techniques) techniques.add(t);
  }
  const techniques24h = [...techniques].sort();
  if (count === 0) {
    return { score: 0, base_score: 0, weighted_alerts: 0, max_alerts_per_subject: maxAlerts, alerts: 0, by_severity: bySeverity,
      mitre_mult: 1, techniques_24h: [], recency_decay: 0, last_alert: null };
  }
  const base = weighted / Math.max(maxAlerts, count);
  const mult = 1 + 0.1 * techniques24h.length;
  const decay = recencyDecay(last, now);
  return {
    score: round(base * mult * decay), base_score: round(base), weighted_alerts: weighted, max_alerts_per_subject: Math.max(maxAlerts, count),
    alerts: count, by_severity: bySeverity, mitre_mult: round(mult), techniques_24h: techniques24h, recency_decay: decay,
    last_alert: new Date(last).toISOString(),
  };
}
