// Graceful shutdown for long-running commands: waits for SIGINT/SIGTERM, runs the stop function once,
// and exits non-zero if stopping takes longer than the grace period.

import type { Logger } from 'pino';

export function onShutdown(stop: () => Promise<void>, log: Logger, graceMs = 20_000): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const handler = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      const timer = setTimeout(() => { log.error('stop timed out'); process.exit(1); }, graceMs);
      timer.unref();
      stop().then(() => { log.info('stopped'); resolve(); }, (err: unknown) => { log.error({ err }, 'stop failed'); process.exitCode = 1; resolve(); });
    };
    process.once('SIGINT', () => handler('SIGINT'));
    process.once('SIGTERM', () => handler('SIGTERM'));
  });
}
