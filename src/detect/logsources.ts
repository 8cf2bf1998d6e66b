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
