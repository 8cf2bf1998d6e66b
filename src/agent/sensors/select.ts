// Sensor selection and cache seeding for the agent: the eBPF sensor when it can run (root, BTF, built
// binary), otherwise the unprivileged /proc sensor, with the reason recorded in its health. An eBPF
// sensor that fails to start (e.g. the kernel refuses its programs) also falls back to /proc.

import { accessSync, constants, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ProcessCache, ProcessRecord } from '../process-cache.ts';
import type { Observation, Sensor, SensorHealth } from '../sensor.ts';
import { EbpfSensor } from './ebpf/index.ts';
import { ProcReader, ProcSensor } from './proc/index.ts';

export const DEFAULT_SENSOR_BINARY = process.env.VIGIL_SENSOR_BIN
  ?? fileURLToPath(new URL('../../../sensor/build/vigil-sensor', import.meta.url));
const KERNEL_BTF = '/sys/kernel/btf/vmlinux';

export interface SensorChoice {
  prefer?: 'auto' | 'ebpf' | 'proc';
  ignorePids?: number[]; // pids whose activity is not reported (default: the agent's own)
  sensorBinary?: string;
  sensorSocket?: string; // a vigil-sensor running as root with --listen: the agent needs no privilege
  environment?: EbpfEnvironment; // what the host offers; detected when not given
}

export interface EbpfEnvironment {
  isRoot: boolean;
  hasBtf: boolean;
  binaryRunnable: boolean;
}

export function detectEnvironment(binary: string): EbpfEnvironment {
  let binaryRunnable = true;
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    binaryRunnable = false;
  }
  return { isRoot: process.getuid?.() === 0, hasBtf: existsSync(KERNEL_BTF), binaryRunnable };
}

/** Why the eBPF sensor cannot run here, or undefined when it can. */
export function ebpfUnavailableReason(env: EbpfEnvironment, binary: string): string | undefined {
  if (!env.isRoot) return 'eBPF sensor needs root';
  if (!env.hasBtf) return `eBPF sensor needs kernel BTF (${KERNEL_BTF} is missing)`;
  if (!env.binaryRunnable) return `eBPF sensor not built (${binary} missing; run make -C sensor)`;
  return undefined;
}

export async function selectSensor(c: SensorChoice = {}): Promise<Sensor> {
  const ignorePids = c.ignorePids ?? [process.pid];
  const proc = () => new ProcSensor({ ignorePids });
  if (c.prefer === 'proc') return new FallbackSensor(undefined, proc, '/proc sensor requested');
  const binary = c.sensorBinary ?? DEFAULT_SENSOR_BINARY;
  if (c.sensorSocket) return new FallbackSensor(new EbpfSensor({ binary, ignorePids, socketPath: c.sensorSocket }), proc);
  const reason = ebpfUnavailableReason(c.environment ?? detectEnvironment(binary), binary);
  if (reason && c.prefer === 'ebpf') throw new Error(reason);
  if (reason) return new FallbackSensor(undefined, proc, reason);
  const ebpf = new EbpfSensor({ binary, ignorePids });
  return c.prefer === 'ebpf' ? ebpf : new FallbackSensor(ebpf, proc);
}

/** The preferred sensor, or the fallback when there is none or it fails to start; health says why. */
export class FallbackSensor implements Sensor {
  #current: Sensor | undefined;
  #fallback: () => Sensor;
  #reason: string | undefined;

  constructor(preferred: Sensor | undefined, fallback: () => Sensor, reason?: string) {
    this.#fallback = fallback;
    this.#current = preferred ?? fallback();
    this.#reason = preferred ? undefined : reason;
  }

  get mode(): Sensor['mode'] {
    return this.#current!.mode;
  }

  async start(emit: (o: Observation) => void): Promise<void> {
    try {
      await this.#current!.start(emit);
    } catch (err) {
      if (this.#reason !== undefined) throw err; // the fallback itself failed
      this.#reason = `eBPF sensor failed to start: ${(err as Error).message}`;
      this.#current = this.#fallback();
      await this.#current.start(emit);
    }
  }

  stop(): Promise<void> {
    return this.#current!.stop();
  }

  health(): SensorHealth {
    const h = this.#current!.health();
    return this.#reason ? { ...h, detail: h.detail ? `${this.#reason}; ${h.detail}` : this.#reason } : h;
  }
}

/** Every user-space process now running, from /proc (to seed the process cache before the sensor's first event). */
export function runningFromProc(userName?: (uid: number) => string | undefined, reader = new ProcReader()): ProcessRecord[] {
  return reader.readAllProcesses(userName);
}

/** Fills the process cache with every process now running. */
export function seedFromProc(cache: ProcessCache, reader = new ProcReader()): void {
  cache.seed(runningFromProc(undefined, reader));
}
