// DLP on the agent: files written, created or renamed by watched processes under watched paths (the governing
// policy, src/dlp/policy.ts) are scanned once their writes have settled, one at a time, off the event path: a
// bounded queue (the oldest waiting file is dropped and counted when full), each scan bounded by the policy's file
// size, byte rate and CPU share. Findings become events (`event.action` dlp_match, the dlp fields, MITRE tags),
// built by the agent from the file event that caused the scan; they carry masked excerpts only. A policy naming
// data sets matches the files it governs against those of its sets the agent holds (exact data match with the
// tenant's key, datasets.ts); its acknowledgement lists the sets loaded and says which are still missing.

import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { selectDetectors } from '../../dlp/detectors.ts';
import { EdmMatcher } from '../../dlp/edm.ts';
import { datasetsNamed, dlpPolicyOf, exfiltrationTechniques, governingPolicy, type DlpPolicy } from '../../dlp/policy.ts';
import { ContentScanner, type ScanFinding } from '../../dlp/scanner.ts';
import { VIGIL_SELF_LABEL, type DlpFields, type VigilEvent } from '../../schema/event.ts';
import type { StoredPolicy } from '../policy.ts';
import { scanFile } from './file-scan.ts';
import { AgentDatasets } from './datasets.ts';
import type { DatasetChunk, DatasetRequest } from '../../schema/wire.ts';

export interface AgentDlpOptions {
  log: Logger;
  /** Adds a finding event made from the file event that caused the scan. */
  emit(trigger: VigilEvent, dlp: DlpFields, mitre: string[]): void;
  /** Quiet time after a file's last write before it is scanned (default 500 ms). */
  settleMs?: number;
  /** Files waiting at most (default 256). */
  maxQueue?: number;
  /** Paths never scanned (the agent's own data directory). */
  ignorePrefixes?: string[];
  /** Where the data sets' fingerprint sets are kept. */
  datasetDir: string;
  /** Asks the server for a data set's fingerprint set; false when disconnected. */
  requestDataset(req: DatasetRequest): boolean;
  /** Data sets were loaded: the policies are applied and acknowledged again. */
  datasetsChanged(): void;
}

/** What a policy's DLP section could not use, and the data sets loaded for it (`id@version`). */
export interface DlpApplied { errors: string[]; datasets: string[] }

interface Waiting { trigger: VigilEvent; path: string; policy: DlpPolicy; due: number }

const SCANNED_TYPES = new Set(['file_create', 'file_write', 'file_rename']);

export class AgentDlp {
  private readonly o: AgentDlpOptions;
  private policies: DlpPolicy[] = [];
  /** Exact data match per policy name (policies naming data sets the agent holds). */
  private matchers = new Map<string, EdmMatcher>();
  readonly datasets: AgentDatasets;
  private readonly queue = new Map<string, Waiting>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  readonly counters = { queued: 0, scanned: 0, skipped: 0, dropped: 0, failed: 0, findings: 0, bytes: 0 };

  constructor(o: AgentDlpOptions) {
    this.o = o;
    this.datasets = new AgentDatasets({ dir: o.datasetDir, log: o.log, request: o.requestDataset, changed: o.datasetsChanged });
  }

  /** Applies the dlp sections of the stored policies; returns what each could not use and its data sets loaded. */
  setPolicies(stored: readonly StoredPolicy[]): Map<string, DlpApplied> {
    const applied = new Map<string, DlpApplied>();
    this.policies = [];
    this.matchers = new Map();
    const active = stored.map((p) => ({ p, r: dlpPolicyOf(p.name, p.version, p.document) }));
    const refs = active.flatMap(({ p, r }) => (r.policy ? p.datasets ?? [] : []));
    this.datasets.want(refs, active.find(({ p, r }) => r.policy && p.dlpKey)?.p.dlpKey);
    for (const { p, r } of active) {
      const datasets: string[] = [];
      if (r.policy) {
        this.policies.push(r.policy);
        datasets.push(...this.loadDatasets(p, r.errors));
      }
      applied.set(p.name, { errors: r.errors, datasets });
    }
    return applied;
  }

  /** A piece of a data set from the server. */
  onDatasetChunk(c: DatasetChunk): void { this.datasets.onChunk(c); }

  /** The policy's data sets held now (its matcher); errors name those missing or still loading. */
  private loadDatasets(p: StoredPolicy, errors: string[]): string[] {
    const refs = p.datasets ?? [];
    const unknown = datasetsNamed(p.document).filter((n) => !refs.some((r) => r.id === n || r.name === n));
    if (unknown.length > 0) errors.push(`dlp.datasets: no data set ${unknown.join(', ')} on the server`);
    const held = refs.filter((r) => this.datasets.set(r.version));
    const loading = refs.filter((r) => !held.includes(r));
    const fp = this.datasets.fingerprinter;
    if (loading.length > 0) errors.push(`dlp.datasets: loading ${loading.map((r) => `${r.name}@${r.version.slice(0, 12)}`).join(', ')}`);
    if (held.length === 0) return [];
    if (!fp) { errors.push('dlp.datasets: the fingerprint key is not ready'); return []; }
    this.matchers.set(p.name, new EdmMatcher(fp, held.map((r) => this.datasets.set(r.version)!)));
    return held.map((r) => `${r.id}@${r.version}`);
  }

  get active(): boolean { return this.policies.length > 0; }

  /** A file event: queues the file when a policy watches it (never waits for the scan). */
  onFileEvent(e: VigilEvent): void {
    if (!this.active || this.stopped || !SCANNED_TYPES.has(e.event.type) || e.labels?.[VIGIL_SELF_LABEL] === 'true') return;
    const path = e.file?.target_path ?? e.file?.path;
    if (!path || this.o.ignorePrefixes?.some((p) => path.startsWith(p))) return;
    const policy = governingPolicy(this.policies, path, e.process?.name);
    if (!policy) return;
    if (!this.queue.has(path) && this.queue.size >= (this.o.maxQueue ?? 256)) {
      this.queue.delete(this.queue.keys().next().value!);
      this.counters.dropped++;
    }
    this.queue.delete(path); // re-inserted last: the queue stays in order of last write
    this.queue.set(path, { trigger: e, path, policy, due: Date.now() + (this.o.settleMs ?? 500) });
    this.counters.queued++;
    this.arm();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private arm(): void {
    if (this.timer || this.running || this.stopped) return;
    const next = Math.min(...[...this.queue.values()].map((w) => w.due));
    if (!Number.isFinite(next)) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.drain().finally(() => { this.running = undefined; this.arm(); });
    }, Math.max(0, next - Date.now()));
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const ready = [...this.queue.values()].find((w) => w.due <= Date.now());
      if (!ready) return;
      this.queue.delete(ready.path);
      await this.scan(ready);
    }
  }

  private async scan(w: Waiting): Promise<void> {
    const { policy } = w;
    try {
      const st = await stat(w.path);
      if (!st.isFile() || st.size < policy.minFileBytes) { this.counters.skipped++; return; }
      const edm = this.matchers.get(policy.name);
      const scanner = new ContentScanner({ detectors: selectDetectors(policy.detectors), ...(edm ? { edm } : {}) });
      const result = await scanFile(w.path, scanner, { maxFileBytes: policy.maxFileBytes, bytesPerSecond: policy.bytesPerSecond, cpuPercent: policy.cpuPercent });
      this.counters.scanned++;
      this.counters.bytes += result.bytes;
      const total = result.findings.reduce((n, f) => n + f.count, 0);
      if (total < policy.minMatches) return;
      const mitre = exfiltrationTechniques(w.trigger.process?.name, w.path);
      for (const f of result.findings) {
        this.counters.findings++;
        this.o.emit(w.trigger, dlpFields(policy, f, result.bytes), mitre);
      }
    } catch (err) {
      // Gone, unreadable or replaced before its turn: nothing to report.
      this.counters.failed++;
      this.o.log.debug({ err: (err as Error).message, path: w.path }, 'dlp scan skipped');
    }
  }
}

function dlpFields(policy: DlpPolicy, f: ScanFinding, bytes: number): DlpFields {
  return {
    policy: policy.name, rule: f.name, kind: f.kind, matches: f.count, ...(f.cells !== undefined ? { cells: f.cells } : {}),
    confidence: Math.round(f.confidence * 100), excerpts: f.excerpts, bytes_scanned: bytes, action: policy.action, severity: policy.severity,
  };
}
