// One ledger writer per data directory: the process that appends to <data-dir>/ledger.db holds
// <data-dir>/ledger.lock (its pid, created exclusively) until it closes the ledger. Another process that wants
// to write (a second server, `vigil admin`) is refused with a message naming the holder; a lock left by a
// process that is gone is taken over. The same process may open the directory again (tests, in-process roles).

import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class LedgerBusyError extends Error {
  override name = 'LedgerBusyError';
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function holderOf(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the writer lock of `dataDir`; returns its release. Throws LedgerBusyError while a live process holds it. */
export function acquireLedgerWriterLock(dataDir: string): () => void {
  const path = join(dataDir, 'ledger.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return () => { if (holderOf(path) === process.pid) unlinkSync(path); };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = holderOf(path);
    if (holder === process.pid) return () => {};
    if (holder !== undefined && isAlive(holder)) {
      throw new LedgerBusyError(`the audit ledger in ${dataDir} is held by process ${holder} (a running Vigil server?): stop it first, only one process may write a data directory's ledger`);
    }
    unlinkSync(path);
  }
  throw new LedgerBusyError(`could not take the ledger lock ${path}`);
}
