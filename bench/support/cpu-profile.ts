// Benchmark support: V8 CPU profiles of a benchmark's child process over its measured window only (not its
// start-up or warm-up), and a summary of where the time went. The child listens for `profile-start` and
// `profile-stop` on its IPC channel (node:inspector in-process: `--cpu-prof` profiles a whole run, and a
// child that is killed at the end never writes it); the parent saves the profile and prints the functions
// with the most self time, so a benchmark says where its CPU goes, not only how much.

import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }
interface Profile { nodes: ProfileNode[]; samples?: number[] }

/** In the child: profiles between the parent's `profile-start` and `profile-stop`, answering with the profile. */
export function serveCpuProfile(): void {
  const session = new Session();
  session.connect();
  process.on('message', (m: unknown) => {
    if (m === 'profile-start') {
      void session.post('Profiler.enable')
        .then(() => session.post('Profiler.setSamplingInterval', { interval: 500 })) // µs; 200 cost the agent 15 % of a core
        .then(() => session.post('Profiler.start'));
    } else if (m === 'profile-stop') {
      void session.post('Profiler.stop').then(({ profile }) => process.send?.({ profile }));
    }
  });
}

export function startCpuProfile(child: ChildProcess): void {
  child.send('profile-start');
}

/** Stops the child's profile, writes it to `file` (open it in Chrome's DevTools) and returns the summary. */
export async function stopCpuProfile(child: ChildProcess, file: string): Promise<string> {
  child.send('profile-stop');
  const [message] = (await once(child, 'message')) as [{ profile: Profile }];
  writeFileSync(file, JSON.stringify(message.profile));
  return summarizeProfile(message.profile, 20);
}

/** The `top` functions by self time, with their share of the busy samples (idle left out). */
export function summarizeProfile(profile: Profile, top: number): string {
  const busy = profile.nodes.filter((node) => node.callFrame.functionName !== '(idle)');
  const total = busy.reduce((n, node) => n + (node.hitCount ?? 0), 0);
  const byFunction = new Map<string, number>();
  for (const node of busy) {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${url.replace(/^.*\/(src|bench|node_modules)\//, '$1/')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'} ${where}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + (node.hitCount ?? 0));
  }
  const head = `${total} busy samples of the main thread ((program): native code outside JavaScript; other threads are not sampled; ` +
    'the sampling itself costs the process ≈ 10 % of a core, so its CPU figure while profiled is not comparable)';
  return [head, ...[...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([name, hits]) => `${((hits / Math.max(1, total)) * 100).toFixed(1).padStart(5)} %  ${name}`)].join('\n');
}
