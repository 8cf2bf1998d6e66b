// Benchmark support: the agent's event path (process cache enrichment → schema event → batch encoding) in
// this process, under a synthetic exec storm like vigil-trigger's: per process a fork, an exec of
// /usr/bin/true with a unique marker in argv, and an exit, 2,000 processes a second of event time (so that
// the cache keeps 30 s of exited processes, 60,000, once the storm has run that long). Reports the heap
// and array-buffer bytes per cached process (needs --expose-gc) and the CPU per event, warm.

import { buildEvent, createBuildContext } from '../../src/agent/events.ts';
import { ProcessCache } from '../../src/agent/process-cache.ts';
import type { Observation } from '../../src/agent/sensor.ts';
import { schemaEventsWriter } from '../../src/schema/wire.ts';

export interface StormResult { processes: number; cached: number; bytesPerCachedProcess: number; usPerEvent: number }

/** Runs `memoryProcesses` processes and measures the memory they leave, then `cpuProcesses` more, timed. */
export function processStorm(memoryProcesses: number, cpuProcesses: number): StormResult {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('processStorm needs node --expose-gc');
  const hostId = 'agt-bench-storm';
  const cache = new ProcessCache(hostId);
  const ctx = createBuildContext({ hostId, agent: { id: hostId, hostname: 'bench', tenantId: 't', version: '0' }, cache });
  const batch = schemaEventsWriter();
  const emit = (o: Observation) => {
    batch.add(buildEvent(o, ctx));
    if (batch.count === 100) batch.take();
  };
  const t0 = Date.now();
  const trigger = { pid: 5000, tid: 5000, ppid: 4000, uid: 0, gid: 0, euid: 0, cgroupId: '1234' };
  emit({ type: 'process_start', timeMs: t0, ...trigger, comm: 'vigil-trigger', startTimeMs: t0 - 1000,
    executable: '/usr/local/bin/vigil-trigger', args: ['vigil-trigger', 'storm', '2000', '30', 'vigil-bench'], cwd: '/root' });
  const marker = Buffer.from('true\0vigil-bench-2000-1765000000000-0-');
  const run = (from: number, n: number) => {
    for (let i = from; i < from + n; i++) {
      const pid = 10_000 + i;
      const timeMs = t0 + Math.floor(i / 2);
      const common = { pid, tid: pid, ppid: 5000, uid: 0, gid: 0, euid: 0, cgroupId: '1234', startTimeMs: timeMs, timeMs, monotonicNs: BigInt(i) };
      emit({ type: 'process_fork', ...common, comm: 'vigil-trigger' });
      const argv = Buffer.concat([marker, Buffer.from(String(i))]); // strings made from bytes, as the frame decoder makes them
      emit({ type: 'process_start', ...common, comm: 'true', executable: '/usr/bin/true', args: [argv.toString('utf8', 0, 4), argv.toString('utf8', 5)], cwd: '/root' });
      emit({ type: 'process_end', ...common, comm: 'true', exitCode: 0 });
    }
  };
  const used = () => {
    gc();
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const before = used();
  run(0, memoryProcesses);
  const bytesPerCachedProcess = Math.round((used() - before) / cache.size);
  const cached = cache.size;
  const cpu0 = process.cpuUsage();
  run(memoryProcesses, cpuProcesses);
  const cpu = process.cpuUsage(cpu0);
  return { processes: memoryProcesses, cached, bytesPerCachedProcess, usPerEvent: Math.round(((cpu.user + cpu.system) / (3 * cpuProcesses)) * 100) / 100 };
}
