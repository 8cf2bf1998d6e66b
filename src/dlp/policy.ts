// DLP policies: the `dlp` section of an agent policy document (PUT /api/v1/policies/:name), versioned, pushed to
// the tenant's agents and acknowledged like every policy. This module validates a section into the settings the
// agent applies (which detectors and data sets, which paths and processes, size and rate bounds, record or alert,
// severity) and picks the policy that governs a file. Pure.

import { DETECTOR_IDS, type DetectorId } from './detectors.ts';

export const DLP_SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type DlpSeverity = typeof DLP_SEVERITIES[number];

export interface DlpPolicy {
  /** The agent policy's name (findings name it). */
  name: string;
  version: number;
  detectors: DetectorId[];
  /** Data set ids (exact data match); the agent reports those it does not hold. */
  datasets: string[];
  /** Path prefixes watched (a file under one of them); empty: every path. */
  paths: string[];
  excludePaths: string[];
  /** Process names (`comm` or executable base name) whose writes are scanned; empty: every process. */
  processes: string[];
  minFileBytes: number;
  maxFileBytes: number;
  bytesPerSecond: number;
  /** Share of one core the scans may use, in percent. */
  cpuPercent: number;
  /** Matches (all detectors and data sets of a file together) below which nothing is reported. */
  minMatches: number;
  action: 'record' | 'alert';
  severity: DlpSeverity;
}

export const DLP_DEFAULTS = {
  minFileBytes: 16, maxFileBytes: 16 * 2 ** 20, bytesPerSecond: 8 * 2 ** 20, cpuPercent: 10, minMatches: 1,
  action: 'alert', severity: 'high',
} as const;

const LIMITS = {
  min_file_bytes: { key: 'minFileBytes', min: 0, max: 2 ** 30 },
  max_file_bytes: { key: 'maxFileBytes', min: 1024, max: 2 ** 31 },
  bytes_per_second: { key: 'bytesPerSecond', min: 64 * 1024, max: 2 ** 31 },
  cpu_percent: { key: 'cpuPercent', min: 1, max: 100 },
  min_matches: { key: 'minMatches', min: 1, max: 1_000_000 },
} as const;
const MAX_LIST = 256;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: unknown, what: string, errors: string[]): string[] {
  if (v === undefined) return [];
  if (Array.isArray(v) && v.length <= MAX_LIST && v.every((s) => typeof s === 'string' && s.length > 0 && s.length <= 4096)) return v as string[];
  errors.push(`dlp.${what} must be a list of at most ${MAX_LIST} non-empty strings`);
  return [];
}

/** The DLP policy of an agent policy document (null when it has no `dlp` section), and what could not be used. */
export function dlpPolicyOf(name: string, version: number, document: unknown): { policy: DlpPolicy | null; errors: string[] } {
  const errors: string[] = [];
  const section = isObject(document) ? document.dlp : undefined;
  if (section === undefined) return { policy: null, errors };
  if (!isObject(section)) return { policy: null, errors: ['dlp must be an object'] };
  if (section.enabled === false) return { policy: null, errors };
  let detectors: DetectorId[] = [...DETECTOR_IDS];
  if (section.detectors !== undefined && section.detectors !== 'all') {
    const ids = stringList(section.detectors, 'detectors', errors);
    const unknown = ids.filter((id) => !(DETECTOR_IDS as readonly string[]).includes(id));
    if (unknown.length > 0) errors.push(`dlp.detectors: unknown ${unknown.join(', ')}`);
    detectors = ids.filter((id): id is DetectorId => (DETECTOR_IDS as readonly string[]).includes(id));
  }
  const policy: DlpPolicy = {
    name, version, detectors, datasets: stringList(section.datasets, 'datasets', errors),
    paths: stringList(section.paths, 'paths', errors), excludePaths: stringList(section.exclude_paths, 'exclude_paths', errors),
    processes: stringList(section.processes, 'processes', errors), ...DLP_DEFAULTS,
  };
  for (const [key, b] of Object.entries(LIMITS)) {
    const v = section[key];
    if (v === undefined) continue;
    if (typeof v === 'number' && Number.isInteger(v) && v >= b.min && v <= b.max) policy[b.key] = v;
    else errors.push(`dlp.${key} must be an integer in [${b.min}, ${b.max}]`);
  }
  if (section.action !== undefined) {
    if (section.action === 'record' || section.action === 'alert') policy.action = section.action;
    else errors.push("dlp.action must be 'record' or 'alert'");
  }
  if (section.severity !== undefined) {
    if ((DLP_SEVERITIES as readonly unknown[]).includes(section.severity)) policy.severity = section.severity as DlpSeverity;
    else errors.push(`dlp.severity must be one of ${DLP_SEVERITIES.join(', ')}`);
  }
  return { policy, errors };
}

/** The data set ids or names of a policy document's `dlp.datasets` (the document as JSON text or parsed). */
export function datasetsNamed(document: unknown): string[] {
  let doc = document;
  if (typeof doc === 'string') {
    try { doc = JSON.parse(doc); } catch { return []; }
  }
  const dlp = isObject(doc) ? doc.dlp : undefined;
  const list = isObject(dlp) ? dlp.datasets : undefined;
  return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
}

const under = (path: string, prefixes: readonly string[]): boolean => prefixes.some((p) => path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`));

/** The first policy (in name order) that watches this file written by this process, or undefined. */
export function governingPolicy(policies: readonly DlpPolicy[], path: string, processName: string | undefined): DlpPolicy | undefined {
  return [...policies].sort((a, b) => (a.name < b.name ? -1 : 1)).find((p) =>
    (p.paths.length === 0 || under(path, p.paths)) && !under(path, p.excludePaths)
    && (p.processes.length === 0 || (processName !== undefined && p.processes.includes(processName))));
}

/** MITRE ATT&CK exfiltration techniques a finding is tagged with, from the process that wrote the file. */
export function exfiltrationTechniques(processName: string | undefined, path: string): string[] {
  const p = processName ?? '';
  if (/^(curl|wget|scp|sftp|rsync|ftp|nc|ncat|socat|ssh)$/.test(p)) return ['T1048']; // over an alternative protocol
  if (/^(chrome|chromium|firefox|msedge|brave|rclone|gsutil|aws|az|dropbox|onedrive)/.test(p)) return ['T1567']; // to a web service
  if (/^\/(media|mnt|run\/media)\//.test(path)) return ['T1052']; // over a physical medium
  return ['T1074.001']; // local data staging
}
