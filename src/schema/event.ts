// Vigil's event schema: ECS-shaped telemetry events (seed 002 §5, ARCHITECTURE "Event schema").
// Owns the TypeScript shape of an event and the list of event types; pure, no I/O.

export const EVENT_TYPES = [
  'process_start',
  'process_end',
  'process_fork',
  'network_connection',
  'network_accept',
  'network_send',
  'file_create',
  'file_write',
  'file_delete',
  'file_rename',
  'file_chmod',
  'file_chown',
  'privilege_change',
  'ptrace',
  'module_load',
  'memfd_exec',
  'process_hash', // the executable's digests, when they were not known at its process_start (issue 22)
  'dns', // a DNS query or answer the process sent or received
  'windows', // imported Windows Sysmon/Security events, normalised as far as the schema allows
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export const EVENT_CATEGORY: Record<EventType, string> = {
  process_start: 'process',
  process_end: 'process',
  process_fork: 'process',
  network_connection: 'network',
  network_accept: 'network',
  network_send: 'network',
  file_create: 'file',
  file_write: 'file',
  file_delete: 'file',
  file_rename: 'file',
  file_chmod: 'file',
  file_chown: 'file',
  privilege_change: 'iam',
  ptrace: 'process',
  module_load: 'driver',
  memfd_exec: 'process',
  process_hash: 'process',
  dns: 'network',
  windows: 'windows',
};

export interface ParentProcess {
  pid?: number;
  entity_id?: string;
  executable?: string;
  command_line?: string;
  name?: string;
  start?: string;
}

export interface ProcessFields extends ParentProcess {
  ppid?: number;
  tid?: number;
  args?: string[];
  args_truncated?: boolean;
  working_directory?: string;
  exit_code?: number;
  signal?: number;
  hash?: { sha256?: string; sha1?: string; md5?: string }; // ECS process.hash.*, of the executable
  /** The executable file (ECS `file` field names; ECS has none for a process's executable): size in bytes,
   * inode and device (st_dev) as decimal text, mtime ISO 8601. */
  file?: { size?: number; inode?: string; device?: string; mtime?: string };
  parent?: ParentProcess;
  /** Entity ids of the process's ancestors, nearest first, as the server knew them when it stored the start (src/tree/ancestry.ts). */
  ancestry?: string[];
}

/** ECS `dns.*`: one query or answer. */
export interface DnsFields {
  type?: 'query' | 'answer';
  id?: string;
  response_code?: string; // NOERROR, NXDOMAIN, …
  header_flags?: string[]; // AA, TC, RD, RA, …
  question?: { name?: string; type?: string };
  answers?: { name?: string; type?: string; ttl?: number; data?: string }[];
  resolved_ip?: string[];
}

/**
 * A data-loss prevention finding (`event.action` `dlp_match`, on the file event that caused the scan): which
 * policy, detector or data set, how many matches, and masked excerpts only — never a matched value.
 */
export interface DlpFields {
  policy?: string;
  /** The detector id (`payment_card`…) or the data set name. */
  rule?: string;
  kind?: 'detector' | 'dataset';
  /** Matches (detector) or matched records (data set). */
  matches?: number;
  /** Distinct protected cells seen (data set). */
  cells?: number;
  /** Confidence in percent. */
  confidence?: number;
  excerpts?: string[];
  bytes_scanned?: number;
  action?: 'record' | 'alert';
  severity?: 'low' | 'medium' | 'high' | 'critical';
}

/** The label on events of Vigil's own processes (the agent, the server it runs in, their descendants). */
export const VIGIL_SELF_LABEL = 'vigil.self';
/** `event.action` of the process_start events that report processes already running when the agent started. */
export const SNAPSHOT_ACTION = 'snapshot';

/** Events detection never alerts on: Vigil's own processes' and the start-up snapshot of running processes. */
export function isExemptFromDetection(e: VigilEvent): boolean {
  return e.event.action === SNAPSHOT_ACTION || e.labels?.[VIGIL_SELF_LABEL] === 'true';
}

export interface VigilEvent {
  '@timestamp': string; // ISO 8601 with milliseconds, when the action happened on the host
  agent: { id: string; name?: string; hostname?: string; tenant_id: string; version?: string };
  event: {
    id: string; // globally unique; duplicates of the same id are one event
    type: EventType;
    category?: string;
    action?: string;
    ingested?: string;
    outcome?: 'success' | 'failure' | 'unknown';
    truncated?: string[]; // dotted paths of fields cut to their bound
    sequence?: number; // host-monotonic ordering hint
  };
  process?: ProcessFields;
  user?: { id?: string; name?: string; effective?: { id?: string; name?: string }; group?: { id?: string; name?: string } };
  host?: { id?: string; hostname?: string; os?: { platform?: string; kernel?: string } };
  file?: { path?: string; target_path?: string; mode?: string; owner?: string };
  source?: { ip?: string; port?: number };
  destination?: { ip?: string; port?: number };
  network?: { transport?: 'tcp' | 'udp'; type?: 'ipv4' | 'ipv6'; direction?: 'outbound' | 'inbound' };
  container?: { cgroup_id?: string; id?: string; runtime?: string }; // ECS container.id/runtime from the cgroup path
  orchestrator?: { type?: string; namespace?: string; resource?: { type?: string; name?: string; id?: string } }; // ECS, Kubernetes pod
  dns?: DnsFields;
  dlp?: DlpFields;
  threat?: { mitre?: string[]; gtfobins?: string[] };
  winlog?: Record<string, unknown>; // original fields of an imported Windows event
  labels?: Record<string, string>;
}
