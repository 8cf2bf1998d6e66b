// Event → logsource and the data-driven field mapping (a pySigma-style processing pipeline in data):
// which Sigma logsource an event belongs to (Vigil Linux events by event.type; Windows events by channel
// and event id, as SigmaHQ's tests/thor.yml maps them) and how Sigma field names map to event paths.
// Pure tables and lookups.

import type { Logsource } from '../sigma/ir.ts';
import type { FieldMapper } from '../sigma/parser.ts';

/** An event's logsource: one product and service, possibly several categories (Sysmon 12 → registry_add + registry_event). */
export interface EventLogsource { product: string; service?: string; categories: string[]; key: string }

// ---- Windows ------------------------------------------------------------------------------------------

/** Windows event log channel (lowercase) → Sigma service. */
const CHANNEL_SERVICE: Record<string, string> = {
  'application': 'application',
  'security': 'security',
  'system': 'system',
  'microsoft-windows-ntlm/operational': 'ntlm',
  'microsoft-windows-sysmon/operational': 'sysmon',
  'microsoft-windows-powershell/operational': 'powershell',
  'powershellcore/operational': 'powershell',
  'windows powershell': 'powershell-classic',
  'microsoft-windows-taskscheduler/operational': 'taskscheduler',
  'microsoft-windows-wmi-activity/operational': 'wmi',
  'microsoft-windows-dhcp-server/operational': 'dhcp',
  'microsoft-windows-printservice/admin': 'printservice-admin',
  'microsoft-windows-smbclient/security': 'smbclient-security',
  'microsoft-windows-smbclient/connectivity': 'smbclient-connectivity',
  'microsoft-windows-smbserver/connectivity': 'smbserver-connectivity',
  'microsoft-windows-printservice/operational': 'printservice-operational',
  'microsoft-windows-terminalservices-localsessionmanager/operational': 'terminalservices-localsessionmanager',
  'microsoft-windows-codeintegrity/operational': 'codeintegrity-operational',
  'microsoft-windows-applocker/msi and script': 'applocker',
  'microsoft-windows-applocker/exe and dll': 'applocker',
  'microsoft-windows-applocker/packaged app-deployment': 'applocker',
  'microsoft-windows-applocker/packaged app-execution': 'applocker',
  'msexchange management': 'msexchange-management',
  'microsoft-windows-windows defender/operational': 'windefend',
  'microsoft-windows-windows firewall with advanced security/firewall': 'firewall-as',
  'microsoft-windows-bits-client/operational': 'bits-client',
  'microsoft-windows-security-mitigations/kernel mode': 'security-mitigations',
  'microsoft-windows-security-mitigations/user mode': 'security-mitigations',
  'microsoft-windows-diagnosis-scripted/operational': 'diagnosis-scripted',
  'microsoft-windows-shell-core/operational': 'shell-core',
  'openssh/operational': 'openssh',
  'microsoft-windows-ldap-client/debug': 'ldap',
  'microsoft-windows-bitlocker/bitlocker management': 'bitlocker',
  'microsoft-windows-vhdmp/operational': 'vhdmp',
  'microsoft-windows-appxdeploymentserver/operational': 'appxdeployment-server',
  'microsoft-windows-lsa/operational': 'lsa-server',
  'microsoft-windows-appxpackaging/operational': 'appxpackaging-om',
  'microsoft-windows-dns client events/operational': 'dns-client',
  'microsoft-windows-appmodel-runtime/admin': 'appmodel-runtime',
  'microsoft-windows-capi2/operational': 'capi2',
  'microsoft-windows-certificateservicesclient-lifecycle-system/operational': 'certificateservicesclient-lifecycle-system',
  'microsoft-windows-kernel-shimengine/operational': 'kernel-shimengine',
  'microsoft-windows-kernel-shimengine/diagnostic': 'kernel-shimengine',
  'microsoft-windows-application-experience/program-telemetry': 'application-experience',
  'microsoft-windows-application-experience/program-compatibility-assistant': 'application-experience',
  'microsoft-windows-ntfs/operational': 'ntfs',
  'microsoft-windows-hyper-v-worker': 'hyper-v-worker',
  'microsoft-windows-kernel-eventtracing': 'kernel-event-tracing',
  'microsoft-windows-sense/operational': 'sense',
  'microsoft-servicebus-client/admin': 'servicebus-client',
  'microsoft-servicebus-client/operational': 'servicebus-client',
  'microsoft-iis-configuration/operational': 'iis-configuration',
};

interface CategoryRule { service: string; eventId: number; category: string; eventType?: string }

/** (service, event id[, EventType]) → category, after tests/thor.yml. */
const WINDOWS_CATEGORIES: CategoryRule[] = [
  ...([
    [1, 'process_creation'], [2, 'file_change'], [3, 'network_connection'], [4, 'sysmon_status'], [16, 'sysmon_status'],
    [5, 'process_termination'], [6, 'driver_load'], [7, 'image_load'], [8, 'create_remote_thread'], [9, 'raw_access_thread'],
    [10, 'process_access'], [11, 'file_event'], [12, 'registry_event'], [13, 'registry_event'], [14, 'registry_event'],
    [13, 'registry_set'], [14, 'registry_rename'], [15, 'create_stream_hash'], [17, 'pipe_created'], [18, 'pipe_created'],
    [19, 'wmi_event'], [20, 'wmi_event'], [21, 'wmi_event'], [22, 'dns_query'], [23, 'file_delete'], [24, 'clipboard_change'],
    [25, 'process_tampering'], [26, 'file_delete_detected'], [27, 'file_block_executable'], [28, 'file_block_shredding'],
    [29, 'file_executable_detected'], [255, 'sysmon_error'],
  ] as const).map(([eventId, category]) => ({ service: 'sysmon', eventId, category })),
  { service: 'sysmon', eventId: 12, category: 'registry_add', eventType: 'CreateKey' },
  { service: 'sysmon', eventId: 12, category: 'registry_delete', eventType: 'DeleteKey' },
  { service: 'sysmon', eventId: 12, category: 'registry_delete', eventType: 'DeleteValue' },
  { service: 'security', eventId: 4688, category: 'process_creation' },
  { service: 'powershell', eventId: 4103, category: 'ps_module' },
  { service: 'powershell', eventId: 4104, category: 'ps_script' },
  { service: 'powershell-classic', eventId: 400, category: 'ps_classic_start' },
  { service: 'powershell-classic', eventId: 600, category: 'ps_classic_provider_start' },
  { service: 'powershell-classic', eventId: 800, category: 'ps_classic_script' },
];

/** Record-side field aliases per (service, event id): Security 4688 carries Sysmon-style names too. */
const WINDOWS_ALIASES: { service: string; eventId: number; aliases: Record<string, string> }[] = [
  { service: 'security', eventId: 4688, aliases: { Image: 'NewProcessName', ParentImage: 'ParentProcessName' } },
];

/** Provider names that identify a service when a record carries no channel. */
const PROVIDER_SERVICE: Record<string, string> = {
  'microsoft-windows-sysmon': 'sysmon',
  'microsoft-windows-security-auditing': 'security',
  'microsoft-windows-powershell': 'powershell',
  powershell: 'powershell-classic',
};

export function windowsTables(): { channels: Record<string, string>; categories: readonly CategoryRule[]; aliases: typeof WINDOWS_ALIASES } {
  return { channels: CHANNEL_SERVICE, categories: WINDOWS_CATEGORIES, aliases: WINDOWS_ALIASES };
}

const lsCache = new Map<string, EventLogsource>();

function logsource(product: string, service: string | undefined, categories: string[]): EventLogsource {
  const key = `${product}|${service ?? ''}|${categories.join(',')}`;
  let ls = lsCache.get(key);
  if (!ls) { ls = { product, service, categories, key }; lsCache.set(key, ls); }
  return ls;
}

// Memos of the classification, keyed by the values as found (no string building per event); cleared when
// full, since channel names and event ids come from input.
const MEMO_LIMIT = 4096;
const channelServices = new Map<string, string | undefined>();
const providerServices = new Map<string, string | undefined>();
const byServiceEvent = new Map<string, Map<number | string, EventLogsource>>(); // service → event key → logsource
let eventMemoSize = 0;
/** Event ids whose category also depends on EventType (Sysmon 12: CreateKey vs DeleteKey). */
const TYPED_EVENT_IDS = new Set(WINDOWS_CATEGORIES.filter((c) => c.eventType).map((c) => c.eventId));

function memoized(memo: Map<string, string | undefined>, key: string, table: Record<string, string>): string | undefined {
  if (memo.has(key)) return memo.get(key);
  if (memo.size >= MEMO_LIMIT) memo.clear();
  const service = table[key.toLowerCase()];
  memo.set(key, service);
  return service;
}

function windowsService(channel: unknown, provider: unknown): string | undefined {
  return (typeof channel === 'string' ? memoized(channelServices, channel, CHANNEL_SERVICE) : undefined)
    || (typeof provider === 'string' ? memoized(providerServices, provider, PROVIDER_SERVICE) : undefined);
}

function classify(service: string | undefined, eventId: number, eventType: unknown): EventLogsource {
  const categories: string[] = [];
  for (const c of WINDOWS_CATEGORIES) {
    if (c.service === service && c.eventId === eventId && (!c.eventType || c.eventType === eventType) && !categories.includes(c.category)) {
      categories.push(c.category);
    }
  }
  return logsource('windows', service, categories);
}

/** Logsource of a flattened Windows record (fields EventID, Channel, Provider_Name…). */
export function windowsLogsource(rec: Record<string, unknown>): EventLogsource {
  const service = windowsService(rec.Channel, rec.Provider_Name);
  const eventId = Number(rec.EventID);
  const key = TYPED_EVENT_IDS.has(eventId) ? `${eventId}|${String(rec.EventType)}` : eventId;
  let events = byServiceEvent.get(service ?? '');
  const known = events?.get(key);
  if (known) return known;
  if (eventMemoSize >= MEMO_LIMIT) { byServiceEvent.clear(); eventMemoSize = 0; events = undefined; }
  if (!events) { events = new Map(); byServiceEvent.set(service ?? '', events); }
  const ls = classify(service, eventId, rec.EventType);
  events.set(key, ls);
  eventMemoSize++;
  return ls;
}

/** Adds the Sysmon-style alias fields a Windows record's logsource expects (e.g. 4688 NewProcessName → Image). */
export function addWindowsAliases(rec: Record<string, unknown>, ls: EventLogsource): void {
  const eventId = Number(rec.EventID);
  for (const a of WINDOWS_ALIASES) {
    if (a.service !== ls.service || a.eventId !== eventId) continue;
    for (const [to, from] of Object.entries(a.aliases)) if (rec[to] === undefined && rec[from] !== undefined) rec[to] = rec[from];
  }
}

// ---- Vigil Linux events ---------------------------------------------------------------------------------

/** VigilEvent event.type → Sigma category (product linux). Types without a Sigma category keep their own name. */
export const LINUX_CATEGORIES: Record<string, string> = {
  process_start: 'process_creation',
  memfd_exec: 'process_creation',
  process_end: 'process_termination',
  network_connection: 'network_connection',
  network_accept: 'network_connection',
  file_create: 'file_event',
  file_write: 'file_event',
  file_delete: 'file_delete',
  file_rename: 'file_rename',
  file_chmod: 'file_change',
  file_chown: 'file_change',
  module_load: 'driver_load',
};

export function linuxLogsource(eventType: string): EventLogsource {
  return logsource('linux', undefined, [LINUX_CATEGORIES[eventType] ?? eventType]);
}

/** Sigma field name → VigilEvent path, for product linux; per-category entries override the common ones. */
const LINUX_FIELDS: { common: Record<string, string>; category: Record<string, Record<string, string>> } = {
  common: {
    Image: 'process.executable',
    CommandLine: 'process.command_line',
    ParentImage: 'process.parent.executable',
    ParentCommandLine: 'process.parent.command_line',
    ProcessId: 'process.pid',
    ParentProcessId: 'process.ppid',
    CurrentDirectory: 'process.working_directory',
    ProcessName: 'process.name',
    ParentProcessName: 'process.parent.name',
    Hashes: 'process.hash.sha256',
    sha256: 'process.hash.sha256',
    User: 'user.name',
    UserId: 'user.id',
    Computer: 'host.hostname',
    ComputerName: 'host.hostname',
    TargetFilename: 'file.path',
    DestinationIp: 'destination.ip',
    DestinationPort: 'destination.port',
    SourceIp: 'source.ip',
    SourcePort: 'source.port',
    Protocol: 'network.transport',
  },
  category: {
    file_rename: { SourceFilename: 'file.path', TargetFilename: 'file.target_path' },
    driver_load: { ImageLoaded: 'file.path' },
  },
};

/** The field mapper Vigil compiles Sigma rules with: Linux rules read VigilEvent paths, others keep names. */
export const vigilFieldMapper: FieldMapper = (ls: Logsource) => {
  if (ls.product !== 'linux') return (f) => f;
  const specific = (ls.category && LINUX_FIELDS.category[ls.category]) || {};
  return (f) => specific[f] ?? LINUX_FIELDS.common[f] ?? f;
};

/** Does a rule's logsource select events of this logsource? */
export function logsourceMatches(rule: Logsource, ev: EventLogsource): boolean {
  if (rule.product && rule.product !== ev.product) return false;
  if (rule.service && rule.service !== ev.service) return false;
  if (rule.category && !ev.categories.includes(rule.category)) return false;
  return true;
}

// ---- What Vigil collects: event types per rule logsource, and each rule's coverage ---------------------------------

/** Event types the /proc fallback sensor produces (every sensor does); the eBPF sensor produces every Linux type. */
const PROC_SENSOR_TYPES: readonly string[] = ['process_start', 'process_end'];
/** Event types of Vigil's Linux sensors (the eBPF sensor's; `windows` is an imported type, not a sensor's). */
const LINUX_EVENT_TYPES: readonly string[] = [
  'process_start', 'process_end', 'process_fork', 'network_connection', 'network_accept', 'network_send', 'file_create', 'file_write',
  'file_delete', 'file_rename', 'file_chmod', 'file_chown', 'privilege_change', 'ptrace', 'module_load', 'memfd_exec',
];

/** The Linux event types of a Sigma category: those mapped to it, or a type named like it (types without a category). */
function linuxTypesOf(category: string): string[] {
  const mapped = LINUX_EVENT_TYPES.filter((t) => LINUX_CATEGORIES[t] === category);
  return mapped.length ? mapped : LINUX_EVENT_TYPES.filter((t) => t === category && LINUX_CATEGORIES[t] === undefined);
}

/**
 * The stored event types a rule of this logsource can match (`event.type` values), for narrowing a search; undefined
 * when any type may match (no product and no category). An empty list: no event Vigil stores can match.
 */
export function eventTypesFor(ls: Logsource | undefined): string[] | undefined {
  if (!ls || (!ls.product && !ls.category && !ls.service)) return undefined;
  if (ls.product === 'windows') return ['windows'];
  if (ls.product && ls.product !== 'linux') return [];
  if (ls.service) return ls.product ? [] : ['windows']; // Linux service logs are not collected; a bare service may be a Windows one
  if (ls.category) return [...linuxTypesOf(ls.category), ...(ls.product ? [] : ['windows'])];
  return [...LINUX_EVENT_TYPES];
}

export type Coverage = 'collected' | 'partial' | 'not_collected';

/** Whether Vigil collects what a rule needs, why, and the log source it is grouped under (e.g. `linux/process_creation`). */
export interface RuleCoverage { coverage: Coverage; reason: string; logsource: string }

const COVERAGE_RANK: Record<Coverage, number> = { collected: 0, partial: 1, not_collected: 2 };

/** The log source's label: product/service/category, `*` for what the rule leaves open. */
export function logsourceLabel(ls: Logsource | undefined): string {
  if (!ls) return '*';
  return [ls.product ?? '*', ...(ls.service ? [ls.service] : []), ...(ls.category ? [ls.category] : ls.service ? [] : ['*'])].join('/');
}

/** Whether Vigil's sensors produce the events of a (single-event) rule's logsource. Pure. */
export function logsourceCoverage(ls: Logsource | undefined): RuleCoverage {
  const logsource = logsourceLabel(ls);
  const of = (coverage: Coverage, reason: string): RuleCoverage => ({ coverage, reason, logsource });
  if (!ls || (!ls.product && !ls.category && !ls.service)) return of('partial', 'the rule names no logsource: it is evaluated on every event Vigil stores, whatever log it was written for');
  if (ls.product === 'windows') {
    return of('not_collected', 'Vigil\'s agent runs on Linux and collects no Windows event log; only Windows events imported as event.type "windows" (or files given to `vigil scan`) reach such a rule');
  }
  if (ls.product && ls.product !== 'linux') return of('not_collected', `Vigil collects no ${ls.product} logs (its agent records Linux process, file and network activity)`);
  if (ls.service) {
    return of('not_collected', `Vigil does not collect the ${ls.product ?? ''}${ls.product ? ' ' : ''}${ls.service} log (its agent records process, file and network activity with its own sensors, not ${ls.service} records)`);
  }
  if (!ls.category) {
    return of('partial', 'product linux without a category or service means any Linux log (syslog, shell history, …); Vigil evaluates it over its own process, file and network events only');
  }
  const types = linuxTypesOf(ls.category);
  if (types.length === 0) return of('not_collected', `no Vigil sensor produces ${ls.category} events`);
  if (types.some((t) => PROC_SENSOR_TYPES.includes(t))) return of('collected', `${types.join(', ')} events, from every sensor (eBPF and the /proc fallback)`);
  return of('partial', `${types.join(', ')} events come from the eBPF sensor only; an agent on the /proc fallback sensor records process starts and ends only`);
}

/**
 * Coverage of every rule and correlation: a rule's from its logsource; a correlation's is the least covered of the
 * rules (or correlations) it references, with that rule's reason. A reference to an unknown rule is not_collected.
 */
export function rulesCoverage(rules: { id: string; logsource?: Logsource }[], correlations: { id: string; rules: string[] }[]): Map<string, RuleCoverage> {
  const out = new Map<string, RuleCoverage>(rules.map((r) => [r.id, logsourceCoverage(r.logsource)]));
  const byId = new Map(correlations.map((c) => [c.id, c]));
  const visiting = new Set<string>();
  const resolve = (id: string): RuleCoverage => {
    const known = out.get(id);
    if (known) return known;
    const c = byId.get(id);
    if (!c || visiting.has(id)) return { coverage: 'not_collected', reason: `references ${id}, which is not loaded`, logsource: '*' };
    visiting.add(id);
    let worst: { ref: string; cov: RuleCoverage } | undefined;
    for (const ref of c.rules) {
      const cov = resolve(ref);
      if (!worst || COVERAGE_RANK[cov.coverage] > COVERAGE_RANK[worst.cov.coverage]) worst = { ref, cov };
    }
    visiting.delete(id);
    const result: RuleCoverage = worst
      ? { coverage: worst.cov.coverage, reason: worst.cov.coverage === 'collected' ? `every referenced rule's events are collected (${c.rules.join(', ')})` : `referenced rule ${worst.ref}: ${worst.cov.reason}`, logsource: worst.cov.logsource }
      : { coverage: 'not_collected', reason: 'references no rule', logsource: '*' };
    out.set(id, result);
    return result;
  };
  for (const c of correlations) resolve(c.id);
  return out;
}
