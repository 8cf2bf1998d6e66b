// Shapes of the Vigil REST API's answers that the console reads (see docs/console.md for the endpoints).

export interface HostHealth {
  version?: string; sensorMode?: string; sensorDetail?: string; queueDepth?: number; spoolBytes?: number;
  sensorDrops?: number; agentDrops?: number; sensorRestarts?: number; rssBytes?: number; cpuPct?: number; eventsSent?: number;
}

export interface Host {
  id: string; hostname: string; os: string; kernel: string; agent_version: string;
  status: 'online' | 'offline'; last_seen: string | null; enrolled_at: string; sensor_mode: string | null;
  health: HostHealth; certificate: { serial: string; not_after: string; revoked: boolean };
}

export interface ProcessNode {
  entity_id: string; pid: number; ppid: number; parent_entity_id: string | null; exe: string; cmdline: string;
  start_ts: string; exit_ts: string | null; exit_code: number | null; uid: number; gid: number; user_name: string | null;
  sha256: string | null; mitre: string[]; gtfobins: string[]; children: ProcessNode[];
}

export interface ProcessTree { host_id: string; at: string; live: boolean; count: number; roots: ProcessNode[] }

export interface EventParent { pid?: number; entity_id?: string; executable?: string; command_line?: string; name?: string }

/** An ECS-shaped event; only the fields the console shows are typed. */
export interface VigilEvent {
  '@timestamp': string;
  event: { id: string; type: string; category?: string; action?: string; outcome?: string };
  agent?: { id?: string; hostname?: string };
  process?: EventParent & { ppid?: number; args?: string[]; working_directory?: string; exit_code?: number; hash?: ExecutableHash; file?: ExecutableFile; parent?: EventParent };
  user?: { name?: string; id?: string | number };
  host?: { id?: string; hostname?: string };
  source?: { ip?: string; port?: number };
  destination?: { ip?: string; port?: number };
  network?: { transport?: string; direction?: string };
  file?: { path?: string; target_path?: string; mode?: string; owner?: string };
  dns?: DnsFields;
  container?: ContainerFields;
  orchestrator?: OrchestratorFields;
  [field: string]: unknown;
}

export interface ExecutableHash { sha256?: string; sha1?: string; md5?: string }
export interface ExecutableFile { size?: number; inode?: string; device?: string; mtime?: string }
export interface ContainerFields { cgroup_id?: string; id?: string; runtime?: string }
export interface OrchestratorFields { type?: string; namespace?: string; resource?: { type?: string; name?: string; id?: string } }
export interface DnsFields {
  type?: 'query' | 'answer'; id?: string; response_code?: string; header_flags?: string[];
  question?: { name?: string; type?: string }; answers?: { name?: string; type?: string; ttl?: number; data?: string }[]; resolved_ip?: string[];
}

/** A process as alerts and the process endpoint describe it (src/tree/live-index.ts ProcessSummary). */
export interface ProcessSummary {
  entity_id: string; pid: number; ppid: number; parent_entity_id: string; executable: string; command_line: string;
  start: string; exit: string | null; user_name: string; user_id: string;
}

export interface ExecStep { executable: string; command_line: string; at: string; event_id: string; snapshot: boolean; hash?: ExecutableHash; file?: ExecutableFile }

/** The process of GET /hosts/{id}/processes/{entity_id}: its current image's digests and file, its container. */
export interface StoredProcess extends ProcessSummary {
  hash?: ExecutableHash; file?: ExecutableFile; container?: ContainerFields; orchestrator?: OrchestratorFields;
}

/** GET /hosts/{id}/processes/{entity_id} */
export interface ProcessInfo {
  host_id: string; hostname: string; process: StoredProcess; ancestors: ProcessSummary[]; children: ProcessSummary[];
  exec_chain: ExecStep[]; events: Record<string, number>; alerts: string[];
}

export type Severity = 'low' | 'medium' | 'high' | 'critical' | 'informational';
export type AlertStatus = 'open' | 'acknowledged' | 'closed' | 'excepted' | 'suppressed';

export interface Technique { id: string; name: string; tactics: string[] }

export interface Rule {
  id: string; title: string; author?: string; level: Severity; status?: string; enabled?: boolean;
  source?: 'builtin' | 'sigma' | 'custom'; description?: string; references?: string[];
  logsource?: Record<string, string>; techniques?: Technique[] | string[];
  /** Whether Vigil collects the events the rule needs (GET /rules; docs/rules.md "Coverage"). */
  coverage?: Coverage; coverage_reason?: string; coverage_logsource?: string;
}

export type Coverage = 'collected' | 'partial' | 'not_collected';

/** POST /rules/test: how much of the range the dry run read (docs/api.md "Rule dry runs"). */
export interface RuleTestScan {
  from: string; to: string; events_scanned: number; pages: number; event_types: string[] | null; complete: boolean;
  stopped_at_budget: boolean; covered_from: string; budget_seconds: number; elapsed_ms: number;
  oldest_event: string | null; newest_event: string | null; summary: string;
}
export interface RuleTestResult { matches: number; events_tested?: number; alerts?: unknown[]; alerts_truncated?: boolean; scan?: RuleTestScan }

export interface Alert {
  id: string; tenant_id: string; host_id: string; process_entity_id: string | null; rule: Rule; techniques: Technique[];
  status: AlertStatus; assignee: string | null; first_seen: string; last_seen: string; events: VigilEvent[];
  event_ids?: string[]; occurrences?: number; severity?: Severity; group_by?: Record<string, string>;
  /** The process the alert is about and its ancestors, root first, captured when the alert was made. */
  process?: ProcessSummary; ancestors?: ProcessSummary[];
  comments: { author: string; text: string; at: string }[]; close_reason: string | null; suppressed_until?: string | null;
  disposition?: string | null; exception_id?: string | null; [extra: string]: unknown;
}

export interface Overview {
  events_per_s: { t: string; v: number }[];
  alerts_by_severity: { t: string; informational?: number; low: number; medium: number; high: number; critical: number }[];
  top_rules: { id: string; title: string; count: number }[];
  top_hosts: { id: string; hostname: string; risk: number; alerts: number }[];
  agents: { online: number; offline: number };
  sensor_drops: number;
}

/** POST /hunt (src/stores/events/hunt.ts HuntResult): column names, rows in column order. */
export interface HuntResult { columns: string[]; rows: unknown[][]; elapsed_ms: number; truncated: boolean }

export interface LedgerEntry { index: number; actor: string; tenant_id: string; action: string; target: string; outcome: string; request_id: string; timestamp: string; details?: Record<string, unknown> }

export interface User { id: string; email: string; role: string; tenant_id: string }

export interface IncidentNote { author: string; text: string; at: string }

export interface Incident {
  id: string; title: string; title_set: boolean; status: 'open' | 'investigating' | 'closed'; severity: Severity;
  computed_severity: Severity; severity_override: Severity | null; assignee: string | null; disposition: string | null;
  close_reason: string | null; closed_at: string | null; closed_by: string | null; alert_count: number; host_ids: string[];
  first_seen: string; last_seen: string; created_at: string; updated_at: string;
  alert_ids?: string[]; action_ids?: string[]; notes?: IncidentNote[];
}

export interface IncidentAlert {
  id: string; rule: { id: string; title: string; level: Severity }; severity: Severity; status: AlertStatus; host_id: string; hostname?: string;
  process: { entity_id: string; pid: number; executable: string; command_line: string } | null;
  first_seen: string; last_seen: string; occurrences: number; techniques: Technique[];
}

export interface TimelineEntry {
  at: string; kind: 'alert' | 'event' | 'action'; host_id?: string;
  alert_id?: string; title?: string; severity?: Severity;
  event_id?: string; type?: string; action?: string; process?: { pid?: number; entity_id?: string; executable?: string; command_line?: string };
  action_id?: string; status?: string; requested_by?: string;
}

export interface IncidentDetail extends Incident {
  alerts: IncidentAlert[];
  actions: (Record<string, unknown> & { id: string; host_id: string; action: string; status: string; link?: string; requested_at?: string; requested_by?: string; params?: Record<string, unknown> })[];
  timeline: TimelineEntry[]; timeline_truncated?: boolean;
}
