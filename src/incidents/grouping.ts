// Incident grouping: which incident a new alert belongs to. Pure (no I/O): the store hands in the alert's facts
// and the open incidents its keys point at, and applies the decision in one transaction.
//
// An alert joins an open (not closed) incident of its tenant when it is on the same host and shares process
// lineage with it: its process or one of its ancestors is the process or an ancestor of an alert already in the
// incident, within WINDOW_MS of the incident's activity. Only meaningful lineage links count: pid 0/1 and the
// kernel's threads, and long-lived roots every process of a host or session descends from (init/systemd, sshd,
// login, session and service managers, cron, container runtimes, terminal multiplexers), are left out, so two
// unrelated attacks under one sshd or one systemd never merge, while a shell that is the root of an attack chain
// links everything below it. A correlation alert (no process of its own) joins the incident holding one of its
// contributing events, else the most recently active open incident of its host within the window. Anything else
// opens a new incident. Incidents never merge by themselves: an alert that links two joins the most recently
// active one (analysts move alerts between incidents when the grouping was wrong).

import type { Alert } from '../detect/alerts.ts';
import type { ProcessSummary } from '../tree/live-index.ts';

/** How far (both ways) an alert may be from an incident's first and last activity and still join it. */
export const WINDOW_MS = 2 * 3_600_000;

export const LEVELS = ['informational', 'low', 'medium', 'high', 'critical'] as const;
export type IncidentLevel = (typeof LEVELS)[number];

export function levelRank(level: string): number {
  const i = (LEVELS as readonly string[]).indexOf(level);
  return i < 0 ? 0 : i;
}

export function maxLevel(levels: string[]): IncidentLevel {
  let best = 0;
  for (const l of levels) best = Math.max(best, levelRank(l));
  return LEVELS[best];
}

/**
 * Executables (base names) of long-lived roots: processes many unrelated activities descend from. Matched on the
 * base name, and on prefixes for families (systemd-*, containerd-shim-*).
 */
const LONG_LIVED_NAMES = new Set([
  'init', 'systemd', 'upstart', 'launchd', 'openrc-init', 'runit', 'runsv', 'runsvdir', 's6-svscan', 's6-supervise', 'tini', 'dumb-init',
  'sshd', 'sshd-session', 'dropbear', 'login', 'agetty', 'getty', 'mingetty', 'su-session', '(sd-pam)',
  'gdm', 'gdm3', 'gdm-session-worker', 'lightdm', 'sddm', 'xdm', 'gnome-session', 'gnome-session-binary', 'gnome-shell',
  'kdeinit5', 'plasmashell', 'xfce4-session', 'dbus-daemon', 'dbus-broker', 'dbus-broker-launch',
  'cron', 'crond', 'anacron', 'atd', 'incrond', 'supervisord', 'monit',
  'containerd', 'dockerd', 'docker-containerd', 'runc', 'crun', 'conmon', 'podman', 'kubelet', 'lxc-start',
  'tmux', 'tmux: server', 'screen', 'SCREEN', 'zellij', 'mosh-server',
  'gnome-terminal-server', 'konsole', 'xterm', 'code', 'code-server', 'vigil', 'vigil-sensor',
]);
const LONG_LIVED_PREFIXES = ['systemd-', 'containerd-shim', 'gdm-', 'sshd:'];

export function baseName(path: string): string {
  const s = path.trim();
  const i = s.lastIndexOf('/');
  return i >= 0 ? s.slice(i + 1) : s;
}

/**
 * Whether a process is a long-lived root rather than part of an attack chain: pid 0/1, kernel threads (pid 2 and
 * its children, which have no executable), and the service, session and container managers listed above (`code`:
 * a developer's editor is an ancestor of everything its terminal runs).
 */
export function isLongLivedRoot(p: Pick<ProcessSummary, 'pid' | 'ppid' | 'executable' | 'command_line'>): boolean {
  if (p.pid <= 2 || p.ppid === 2) return true;
  const exe = baseName(p.executable || '');
  const first = baseName((p.command_line || '').split(' ')[0] ?? '');
  for (const name of [exe, first]) {
    if (!name) continue;
    if (LONG_LIVED_NAMES.has(name)) return true;
    if (LONG_LIVED_PREFIXES.some((x) => name.startsWith(x))) return true;
  }
  return !exe && !first; // nothing names it: not a link anyone can judge
}

/** The entity ids of an alert's meaningful lineage: its process and ancestors, long-lived roots left out. */
export function lineageKeys(a: Pick<Alert, 'process' | 'ancestors' | 'process_entity_id'>): string[] {
  const keys: string[] = [];
  for (const p of [...(a.ancestors ?? []), ...(a.process ? [a.process] : [])]) {
    if (p.entity_id && !isLongLivedRoot(p)) keys.push(p.entity_id);
  }
  // An alert whose process the index did not know names only its entity id: still its own process.
  if (!a.process && a.process_entity_id) keys.push(a.process_entity_id);
  return [...new Set(keys)];
}

/** What the store keeps of an alert in an incident, and what grouping looks at. */
export interface AlertFacts {
  id: string;
  tenant_id: string;
  host_id: string;
  hostname: string;
  level: IncidentLevel;
  rule_id: string;
  rule_title: string;
  correlation: boolean;
  /** Meaningful lineage entity ids (lineageKeys). */
  lineage: string[];
  event_ids: string[];
  first_seen: string;
  last_seen: string;
}

function hostnameOf(a: Alert): string {
  for (const e of a.events ?? []) {
    const h = (e as { host?: { hostname?: string }; agent?: { hostname?: string } });
    const name = h.host?.hostname || h.agent?.hostname;
    if (name) return name;
  }
  return a.host_id ?? '';
}

export function alertFacts(a: Alert): AlertFacts {
  return {
    id: a.id, tenant_id: a.tenant_id, host_id: a.host_id ?? '', hostname: hostnameOf(a), level: maxLevel([a.rule.level]),
    rule_id: a.rule.id, rule_title: a.rule.title, correlation: a.rule.type !== 'single', lineage: a.rule.type === 'single' ? lineageKeys(a) : [],
    event_ids: a.event_ids.slice(0, 20), first_seen: a.first_seen, last_seen: a.last_seen,
  };
}

/** Keys an alert is found by: `p:<entity>` on its host (lineage), `e:<event id>` (contributing events, any host). */
export interface AlertKey { host_id: string; key: string }

export function keysOf(f: AlertFacts): AlertKey[] {
  return [
    ...f.lineage.map((e) => ({ host_id: f.host_id, key: `p:${e}` })),
    ...f.event_ids.map((e) => ({ host_id: '', key: `e:${e}` })),
  ];
}

/** What a correlation alert looks up: the incidents holding its events (any host). */
export function correlationLookups(f: AlertFacts): AlertKey[] {
  return f.event_ids.map((e) => ({ host_id: '', key: `e:${e}` }));
}

/** What a single-event alert looks up: the incidents of its host holding one of its lineage entities. */
export function lineageLookups(f: AlertFacts): AlertKey[] {
  return f.lineage.map((e) => ({ host_id: f.host_id, key: `p:${e}` }));
}

/** An open incident a key of the alert pointed at (or, for correlations, an open incident of its host). */
export interface Candidate {
  id: string;
  first_seen: string;
  last_seen: string;
  created_at: string;
  /** How it was found: a shared lineage entity or event (strong), or only the host (correlations' fallback). */
  via: 'key' | 'host';
}

const ms = (iso: string) => Date.parse(iso);

/** Whether the alert's time span lies within WINDOW_MS of the incident's. */
export function withinWindow(f: Pick<AlertFacts, 'first_seen' | 'last_seen'>, c: Pick<Candidate, 'first_seen' | 'last_seen'>): boolean {
  return ms(f.first_seen) <= ms(c.last_seen) + WINDOW_MS && ms(f.last_seen) >= ms(c.first_seen) - WINDOW_MS;
}

/**
 * The incident the alert joins, or undefined for a new one. Candidates found by a key come first, then (only for
 * correlations) those of the host; among them the most recently active, then the oldest.
 */
export function chooseIncident(f: AlertFacts, candidates: Candidate[]): string | undefined {
  const fit = candidates.filter((c) => withinWindow(f, c) && (c.via === 'key' || f.correlation));
  if (fit.length === 0) return undefined;
  fit.sort((a, b) => (a.via === b.via ? 0 : a.via === 'key' ? -1 : 1)
    || (a.last_seen < b.last_seen ? 1 : a.last_seen > b.last_seen ? -1 : 0)
    || (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0)
    || (a.id < b.id ? -1 : 1));
  return fit[0].id;
}

/** An incident's title: its top alert's rule on its host, and how many other hosts and alerts it has. */
export function titleOf(top: Pick<AlertFacts, 'rule_title' | 'hostname' | 'host_id'>, alertCount: number, hostCount: number): string {
  const where = top.hostname || top.host_id;
  const others = hostCount > 1 ? ` and ${hostCount - 1} other host${hostCount > 2 ? 's' : ''}` : '';
  const more = alertCount > 1 ? ` (+${alertCount - 1} alert${alertCount > 2 ? 's' : ''})` : '';
  return `${top.rule_title}${where ? ` on ${where}` : ''}${others}${more}`.slice(0, 300);
}

/** An incident's title from its alerts: the first of the highest level, on its host (and how many more). */
export function incidentTitle(alerts: Pick<AlertFacts, 'level' | 'rule_title' | 'hostname' | 'host_id' | 'first_seen'>[]): string {
  if (alerts.length === 0) return 'Incident without alerts';
  const top = [...alerts].sort((a, b) => levelRank(b.level) - levelRank(a.level) || (a.first_seen < b.first_seen ? -1 : a.first_seen > b.first_seen ? 1 : 0))[0];
  return titleOf(top, alerts.length, new Set(alerts.map((a) => a.host_id).filter(Boolean)).size);
}
