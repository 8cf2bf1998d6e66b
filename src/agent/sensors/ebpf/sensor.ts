// The eBPF sensor client (mode 'ebpf'): runs the privileged vigil-sensor program (or reads one already
// running on a Unix socket, so that the agent itself needs no privilege), decodes the framed records
// into observations, keeps its kernel and pipe drop counters, and restarts it (or reconnects) with
// exponential backoff when it dies. The agent's and the sensor's own pids are
// filtered out in the kernel by default.

import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import type { Readable } from 'node:stream';
import type { Observation, Sensor, SensorHealth } from '../../sensor.ts';
import { CLK_TCK, procStartTimeMs, ProcReader } from '../proc/index.ts';
import { FrameDecoder } from './frames.ts';
import type { Frame, SensorHello, SensorStats } from './frames.ts';

export interface EbpfSensorOptions {
  binary: string; // the built vigil-sensor
  ignorePids?: Iterable<number>; // pids whose events the kernel drops; default: this process
  ignoreSensor?: boolean; // the sensor drops its own events (default true)
  ringbufMb?: number; // kernel ring buffer size, a power of two (default: the sensor's, 2)
  minBackoffMs?: number; // first restart delay (default 500), doubled up to maxBackoffMs
  maxBackoffMs?: number; // default 30 s
  stableMs?: number; // a run this long resets the backoff (default 60 s)
  helloTimeoutMs?: number; // how long a start may take before it counts as failed (default 15 s)
  btimeS?: number; // boot time (s since the epoch) for start times; default from /proc/stat
  socketPath?: string; // read a sensor already running with --listen PATH instead of spawning one
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

/** Where a run's frames come from: a spawned sensor's stdout or a running sensor's Unix socket. */
interface SensorLink {
  output: Readable;
  onEnd(cb: (why: string) => void): void; // called once, when the run is over
  abort(): void;
  stop(): Promise<void>;
}

function connectSensor(path: string): SensorLink {
  const socket = connect(path);
  return {
    output: socket,
    abort: () => socket.destroy(),
    onEnd: (cb) => once(cb, (end) => {
      socket.on('error', (err) => end(`cannot read vigil-sensor at ${path}: ${err.message}`));
      socket.on('close', () => end(`vigil-sensor at ${path} closed the connection`));
    }),
    stop: async () => {
      socket.destroy();
    },
  };
}

/** Wires `attach`'s end signals so that `cb` runs for the first one only. */
function once(cb: (why: string) => void, attach: (end: (why: string) => void) => void): void {
  let ended = false;
  attach((why) => {
    if (ended) return;
    ended = true;
    cb(why);
  });
}

const NS_PER_TICK = 1e9 / CLK_TCK;
const STDERR_KEEP = 300;

export class EbpfSensor implements Sensor {
  readonly mode = 'ebpf' as const;
  #o: EbpfSensorOptions;
  #args: string[];
  #decoder: FrameDecoder;
  #emit: (o: Observation) => void = () => {};
  #link: SensorLink | undefined;
  #lastEnd = ''; // why the last run ended
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
    await this.#link?.stop();
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
    if (!this.#hello) return this.#lastEnd ? `restarting; ${this.#lastEnd}` : 'vigil-sensor starting';
    const disabled = this.#hello.disabled.length ? `; unavailable: ${this.#hello.disabled.join(', ')}` : '';
    const bad = this.#decoder.lastError ? `; last bad frame: ${this.#decoder.lastError}` : '';
    return `vigil-sensor pid ${this.#hello.pid}: ${this.#hello.attached.join(', ')}${disabled}${bad}`;
  }

  /** One run of the sensor, resolved at its hello; its end later schedules a restart. */
  #run(): Promise<void> {
    return new Promise((resolve, reject) => {
      const link = this.#o.socketPath ? connectSensor(this.#o.socketPath) : this.#spawnSensor();
      this.#link = link;
      this.#hello = undefined;
      this.#stats = undefined;
      this.#decoder.reset();
      const startedAt = Date.now();
      let started = false;
      const timeoutMs = this.#o.helloTimeoutMs ?? 15_000;
      const timer = setTimeout(() => {
        link.abort();
        reject(new Error(`vigil-sensor did not start within ${timeoutMs} ms`));
      }, timeoutMs);
      link.output.on('data', (chunk: Buffer) => this.#decoder.push(chunk, (f) => {
        if (this.#onFrame(f) && !started) {
          started = true;
          clearTimeout(timer);
          resolve();
        }
      }));
      link.onEnd((why) => {
        clearTimeout(timer);
        this.#endRun();
        this.#lastEnd = why;
        if (!started) reject(new Error(why));
        else if (!this.#stopping) this.#scheduleRestart(Date.now() - startedAt);
      });
    });
  }

  #spawnSensor(): SensorLink {
    const child = spawn(this.#o.binary, this.#args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr!.setEncoding('utf8').on('data', (text: string) => this.#keepStderr(text));
    const running = () => child.exitCode === null && child.signalCode === null;
    return {
      output: child.stdout!,
      abort: () => child.kill('SIGKILL'),
      onEnd: (cb) => once(cb, (end) => {
        child.on('error', (err) => end(`cannot run ${this.#o.binary}: ${err.message}`));
        child.on('exit', (code, signal) => end(`vigil-sensor exited (${signal ?? `code ${code}`})${this.#lastStderr ? `: ${this.#lastStderr}` : ''}`));
      }),
      stop: async () => {
        if (!running()) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const force = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(force);
      },
    };
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
