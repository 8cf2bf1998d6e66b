// The agent's command journal: the last reported state of every command it received, one small JSON file per
// command id under <data-dir>/response/commands/ (written atomically). It makes execution idempotent: a command id
// seen before is answered from here, never run twice, across reconnects and agent restarts.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandResult } from '../../schema/wire.ts';

const ID = /^[A-Za-z0-9._-]{1,128}$/;
const KEEP_MS = 30 * 86_400_000;

export function isCommandId(id: string): boolean {
  return ID.test(id) && id !== '.' && id !== '..';
}

export class CommandJournal {
  private readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'response', 'commands');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  get(id: string): CommandResult | undefined {
    const path = join(this.dir, `${id}.json`);
    return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) as CommandResult : undefined;
  }

  put(r: CommandResult): void {
    const path = join(this.dir, `${r.id}.json`);
    writeFileSync(`${path}.tmp`, JSON.stringify(r), { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  }

  /** Forgets commands older than the longest expiry the server allows (30 days). */
  prune(now = Date.now()): void {
    for (const name of readdirSync(this.dir)) {
      const path = join(this.dir, name);
      if (now - statSync(path).mtimeMs > KEEP_MS) rmSync(path, { force: true });
    }
  }
}
