// DLP on the agent: files written, created or renamed by watched processes under watched paths (the governing
// policy, src/dlp/policy.ts) are scanned once their writes have settled, one at a time, off the event path: a
// bounded queue (the oldest waiting file is dropped and counted when full), each scan bounded by the policy's file
// size, byte rate and CPU share. Findings become events (`event.action` dlp_match, the dlp fields, MITRE tags),
// built by the agent from the file event that caused the scan; they carry masked excerpts only.

import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { selectDetectors } from '../../dlp/detectors.ts';
import { dlpPolicyOf, exfiltrationTechniques, governingPolicy, type DlpPolicy } from '../../dlp/policy.ts';
import { ContentScanner, type ScanFinding } from '../../dlp/scanner.ts';
import { VIGIL_SELF_LABEL, type DlpFields, type VigilEvent } from '../../schema/event.ts';
import type { StoredPolicy } from '../policy.ts';
import { scanFile } from './file-scan.ts';

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
}

interface Waiting { trigger: VigilEvent; path: string; policy: DlpPolicy; due: number }

const SCANNED_TYPES = new Set(['file_create', 'file_write', 'file_rename']);

export class AgentDlp {
  private readonly o: AgentDlpOptions;
  private policies: DlpPolicy[] = [];
  private readonly queue = new Map<string, Waiting>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  readonly counters = { queued: 0, scanned: 0, skipped: 0, dropped: 0, failed: 0, findings: 0, bytes: 0 };

  constructor(o: AgentDlpOptions) {
    this.o = o;
  }

  /** Applies the dlp sections of the stored policies; returns each policy's errors (for its acknowledgement). */
  setPolicies(stored: readonly StoredPolicy[]): Map<string, string[]> {
    const errors = new Map<string, string[]>();
    this.policies = [];
    for (const p of stored) {
      const r = dlpPolicyOf(p.name, p.version, p.document);
      if (r.policy) this.policies.push(r.policy);
      if (r.policy?.datasets.length) r.errors.push('dlp.datasets: exact data match is not delivered to agents yet (content detectors apply)');
      errors.set(p.name, r.errors);
    }
    return errors;
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
      const scanner = new ContentScanner({ detectors: selectDetectors(policy.detectors) });
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
