// The eBPF sensor client (mode 'ebpf'): runs the privileged vigil-sensor program, decodes the framed
// records it writes on its stdout into observations, keeps its kernel and pipe drop counters, and
// restarts it with exponential backoff when it dies. The agent's and the sensor's own pids are
// filtered out in the kernel by default.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { Observation, Sensor, SensorHealth } from '../../sensor.ts';
import { CLK_TCK, procStartTimeMs, ProcReader } from '../proc/index.ts';
import { FrameDecoder } from './frames.ts';
import type { Frame, SensorHello, SensorStats } from './frames.ts';

export interface EbpfSensorOptions {
  binary: string; // the built vigil-sensor
  ignorePids?: Iterable<number>; // pids whose events the kernel drops; default: this process
  ignoreSensor?: boolean; // the sensor drops its own events (default true)
  ringbufMb?: number; // kernel ring buffer size, a power of two (default: the sensor's, 8)
  minBackoffMs?: number; // first restart delay (default 500), doubled up to maxBackoffMs
  maxBackoffMs?: number; // default 30 s
  stableMs?: number; // a run this long resets the backoff (default 60 s)
  helloTimeoutMs?: number; // how long a start may take before it counts as failed (default 15 s)
  btimeS?: number; // boot time (s since the epoch) for start times; default from /proc/stat
}

/** Counters for tests, the benchmark and logs; health() folds them into drops. */
export interface EbpfSensorCounters {
  observations: number;
  kernelDrops: number; // ring-buffer reserve failures
  undelivered: number; // frames the sensor could not write to us
  badRecords: number; // kernel records the sensor could not decode
  badFrames: number; // frames we could not decode
  restarts: number;
  sensorPid?: number;
}

const NS_PER_TICK = 1e9 / CLK_TCK;
const STDERR_KEEP = 300;

export class EbpfSensor implements Sensor {
  readonly mode = 'ebpf' as const;
  #o: EbpfSensorOptions;
  #args: string[];
  #decoder: FrameDecoder;
  #emit: (o: Observation) => void = () => {};
  #child: ChildProcess | undefined;
  #hello: SensorHello | undefined;
  #stats: SensorStats | undefined; // the current run's last report
  #previousRuns = { kernelDrops: 0, undelivered: 0, badRecords: 0 };
  #observations = 0;
  #restarts = 0;
  #backoffMs: number;
  #restartTimer: NodeJS.Timeout | undefined;
  #stopping = false;
  #lastStderr = '';

  constructor(o: EbpfSensorOptions) {
    this.#o = o;
    this.#backoffMs = o.minBackoffMs ?? 500;
    this.#args = [...(o.ringbufMb ? ['--ringbuf-mb', String(o.ringbufMb)] : []),
      ...(o.ignoreSensor === false ? ['--no-ignore-self'] : [])];
    for (const pid of o.ignorePids ?? [process.pid]) this.#args.push('--ignore-pid', String(pid));
    const btimeS = o.btimeS ?? new ProcReader().bootInfo().btimeS;
    this.#decoder = new FrameDecoder((bootNs) => procStartTimeMs(Math.floor(bootNs / NS_PER_TICK), btimeS));
  }

  /** Starts the sensor; resolves once it has attached its programs (its hello), rejects if it cannot. */
  async start(emit: (o: Observation) => void): Promise<void> {
    this.#emit = emit;
    this.#stopping = false;
    await this.#run();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(force);
  }

  health(): SensorHealth {
    const c = this.counters();
    return {
      mode: 'ebpf',
      drops: c.kernelDrops + c.undelivered + c.badRecords + c.badFrames,
      restarts: c.restarts,
      detail: this.#detail(),
    };
  }

  counters(): EbpfSensorCounters {
    const s = this.#stats;
    return {
      observations: this.#observations,
      kernelDrops: this.#previousRuns.kernelDrops + (s?.ringDrops ?? 0),
      undelivered: this.#previousRuns.undelivered + (s?.undelivered ?? 0),
      badRecords: this.#previousRuns.badRecords + (s?.badRecords ?? 0),
      badFrames: this.#decoder.counters.badFrames,
      restarts: this.#restarts,
      sensorPid: this.#hello?.pid,
    };
  }

  #detail(): string {
    if (!this.#hello) return `vigil-sensor not running${this.#lastStderr ? `: ${this.#lastStderr}` : ''}`;
    const disabled = this.#hello.disabled.length ? `; unavailable: ${this.#hello.disabled.join(', ')}` : '';
    const bad = this.#decoder.lastError ? `; last bad frame: ${this.#decoder.lastError}` : '';
    return `vigil-sensor pid ${this.#hello.pid}: ${this.#hello.attached.join(', ')}${disabled}${bad}`;
  }

  /** One run of the sensor, resolved at its hello; its death later schedules a restart. */
  #run(): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.#o.binary, this.#args, { stdio: ['ignore', 'pipe', 'pipe'] });
      this.#child = child;
      this.#hello = undefined;
      this.#stats = undefined;
      this.#decoder.reset();
      const startedAt = Date.now();
      let started = false;
      const timer = setTimeout(() => fail(new Error(`vigil-sensor did not start within ${this.#o.helloTimeoutMs ?? 15_000} ms`)), this.#o.helloTimeoutMs ?? 15_000);
      const fail = (err: Error) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(err);
      };
      child.stdout!.on('data', (chunk: Buffer) => this.#decoder.push(chunk, (f) => {
        if (this.#onFrame(f) && !started) {
          started = true;
          clearTimeout(timer);
          resolve();
        }
      }));
      child.stderr!.setEncoding('utf8').on('data', (text: string) => this.#keepStderr(text));
      child.on('error', (err) => fail(new Error(`cannot run ${this.#o.binary}: ${err.message}`)));
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        this.#endRun();
        const why = `vigil-sensor exited (${signal ?? `code ${code}`})${this.#lastStderr ? `: ${this.#lastStderr}` : ''}`;
        if (!started) reject(new Error(why));
        else if (!this.#stopping) this.#scheduleRestart(Date.now() - startedAt);
      });
    });
  }

  /** Handles one frame; true for the hello. */
  #onFrame(f: Frame): boolean {
    if (f.kind === 'observation') {
      this.#observations++;
      this.#emit(f.observation);
    } else if (f.kind === 'stats') this.#stats = f.stats;
    else this.#hello = f.hello;
    return f.kind === 'hello';
  }

  #keepStderr(text: string): void {
    const lines = text.trim().split('\n');
    const last = lines[lines.length - 1];
    if (last) this.#lastStderr = last.slice(0, STDERR_KEEP);
  }

  /** Folds a finished run's counters into the totals. */
  #endRun(): void {
    const s = this.#stats;
    if (s) {
      this.#previousRuns.kernelDrops += s.ringDrops;
      this.#previousRuns.undelivered += s.undelivered;
      this.#previousRuns.badRecords += s.badRecords;
    }
    this.#stats = undefined;
    this.#hello = undefined;
  }

  #scheduleRestart(ranMs: number): void {
    const min = this.#o.minBackoffMs ?? 500;
    if (ranMs >= (this.#o.stableMs ?? 60_000)) this.#backoffMs = min;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#o.maxBackoffMs ?? 30_000, this.#backoffMs * 2);
    this.#restartTimer = setTimeout(() => {
      if (this.#stopping) return;
      this.#restarts++;
      this.#run().catch(() => this.#scheduleRestart(0));
    }, delay);
  }
}
