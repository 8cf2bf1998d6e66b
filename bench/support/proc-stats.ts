// Benchmark support: a process's CPU time and memory, read from /proc.

import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ). */
export const CLK_TCK = 100;

/** utime and stime (fields 14, 15 of /proc/<pid>/stat), in clock ticks. */
export function cpuTicks(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]), sys: Number(f[12]) };
}

/** A memory figure of /proc/<pid>/status, in MB. */
export function rssMb(pid: number, field: 'VmRSS' | 'VmHWM' | 'RssFile'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** A process's memory from /proc/<pid>/smaps_rollup, in MB: resident (anonymous and file-backed) and proportional (PSS: shared pages divided among their users). */
export interface MemorySplit { rss: number; anon: number; file: number; pss: number; pssAnon: number; pssFile: number }

export function memorySplit(pid: number): MemorySplit {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  const mb = (k: number) => Math.round((k / 1024) * 10) / 10;
  return { rss: mb(kb('Rss')), anon: mb(kb('Anonymous')), file: mb(kb('Rss') - kb('Anonymous')), pss: mb(kb('Pss')), pssAnon: mb(kb('Pss_Anon')), pssFile: mb(kb('Pss_File')) };
}
