// Agent policies on the agent side: the documented keys of a policy document that map to agent settings, and
// the effective settings of several named policies (applied in name order; a later name overrides). Keys the
// agent does not know are kept in the stored document and ignored. Pure.

import type { HashingSettings } from './enrichment/hashing.ts';
import type { DatasetRef } from '../schema/wire.ts';

export interface AgentSettings {
  /** Events per batch before it is sent. */
  batchEvents: number;
  /** Longest wait before a partial batch is sent. */
  batchIntervalMs: number;
  heartbeatMs: number;
  /** Process names (`comm`, or the executable's base name) whose observations are dropped on the host. */
  ignoreComms: ReadonlySet<string>;
  /** Executable hashing: on or off, its byte budget and largest file (src/agent/enrichment/hashing.ts). */
  hashing: HashingSettings;
}

export interface StoredPolicy {
  name: string;
  version: number;
  document: unknown;
  /** The DLP data sets the document names, as the server resolved them, and the tenant's fingerprint key (hex). */
  datasets?: DatasetRef[];
  dlpKey?: string;
}

/** What one policy document sets, and the keys it could not use (with why). */
export interface PolicySettings {
  settings: Partial<Omit<AgentSettings, 'hashing'>> & { hashing?: Partial<HashingSettings> };
  errors: string[];
}

const BOUNDS = {
  batch_events: { key: 'batchEvents', min: 1, max: 10_000 },
  batch_interval_ms: { key: 'batchIntervalMs', min: 50, max: 60_000 },
  heartbeat_ms: { key: 'heartbeatMs', min: 1000, max: 3_600_000 },
} as const;
const MAX_IGNORED_COMMS = 256;
const HASHING_BOUNDS = {
  bytes_per_second: { key: 'bytesPerSecond', min: 64 * 1024, max: 1024 ** 3 },
  max_file_bytes: { key: 'maxFileBytes', min: 1024 * 1024, max: 4 * 1024 ** 3 },
} as const;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function ignoreCommsOf(sensor: unknown, errors: string[]): Set<string> | undefined {
  if (sensor === undefined) return undefined;
  if (!isObject(sensor)) { errors.push('sensor must be an object'); return undefined; }
  const v = sensor.ignore_comms;
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length > MAX_IGNORED_COMMS || !v.every((c) => typeof c === 'string' && c.length > 0 && c.length <= 255)) {
    errors.push(`sensor.ignore_comms must be a list of at most ${MAX_IGNORED_COMMS} process names`);
    return undefined;
  }
  return new Set(v as string[]);
}

/** `hashing: {enabled, bytes_per_second, max_file_bytes}` of a policy document. */
function hashingOf(v: unknown, errors: string[]): Partial<HashingSettings> | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) { errors.push('hashing must be an object'); return undefined; }
  const out: Partial<HashingSettings> = {};
  if (v.enabled !== undefined) {
    if (typeof v.enabled === 'boolean') out.enabled = v.enabled;
    else errors.push('hashing.enabled must be a boolean');
  }
  for (const [name, b] of Object.entries(HASHING_BOUNDS)) {
    const n = v[name];
    if (n === undefined) continue;
    if (typeof n === 'number' && Number.isInteger(n) && n >= b.min && n <= b.max) out[b.key] = n;
    else errors.push(`hashing.${name} must be an integer in [${b.min}, ${b.max}]`);
  }
  return out;
}

/** The settings one policy document sets; bad values are reported and left unset. */
export function settingsOf(document: unknown): PolicySettings {
  const errors: string[] = [];
  const settings: PolicySettings['settings'] = {};
  if (!isObject(document)) return { settings, errors: ['the policy document must be a JSON object'] };
  for (const [name, b] of Object.entries(BOUNDS)) {
    const v = document[name];
    if (v === undefined) continue;
    if (typeof v === 'number' && Number.isInteger(v) && v >= b.min && v <= b.max) settings[b.key] = v;
    else errors.push(`${name} must be an integer in [${b.min}, ${b.max}]`);
  }
  const ignored = ignoreCommsOf(document.sensor, errors);
  if (ignored) settings.ignoreComms = ignored;
  const hashing = hashingOf(document.hashing, errors);
  if (hashing) settings.hashing = hashing;
  return { settings, errors };
}

/** The defaults, overridden by each policy in name order. */
export function effectiveSettings(defaults: AgentSettings, policies: StoredPolicy[]): AgentSettings {
  return [...policies].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .reduce<AgentSettings>((acc, p) => {
      const s = settingsOf(p.document).settings;
      return { ...acc, ...s, hashing: { ...acc.hashing, ...s.hashing } as HashingSettings }; // hashingOf sets no undefined
    }, defaults);
}

/** Whether an observation of this process is ignored by policy. */
export function isIgnored(settings: AgentSettings, comm: string | undefined, executable: string | undefined): boolean {
  if (!settings.ignoreComms.size) return false;
  if (comm !== undefined && settings.ignoreComms.has(comm)) return true;
  const base = executable?.slice(executable.lastIndexOf('/') + 1);
  return base !== undefined && settings.ignoreComms.has(base);
}
