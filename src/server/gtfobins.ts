// Loads GTFOBins from the configured directory at start (`--gtfobins DIR` / VIGIL_GTFOBINS): a checkout of
// GTFOBins/GTFOBins.github.io (its `_gtfobins/` entries) or that `_gtfobins/` directory itself. GTFOBins is GPL-3.0,
// so it is read at run time from where the operator keeps it and never copied into the repository. An unreadable
// entry is skipped and counted; a directory that holds no entry is an error (a wrong path should not pass silently).

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { functionsOfEntry, GtfobinsIndex } from '../enrich/gtfobins.ts';

export function loadGtfobins(dir: string, log: Logger): GtfobinsIndex {
  const entries = existsSync(join(dir, '_gtfobins')) ? join(dir, '_gtfobins') : dir;
  const byName = new Map<string, string[]>();
  let skipped = 0;
  for (const name of readdirSync(entries)) {
    const path = join(entries, name);
    if (name.startsWith('.') || !statSync(path).isFile()) continue;
    try {
      const functions = functionsOfEntry(readFileSync(path, 'utf8'));
      if (functions.length) byName.set(name.replace(/\.md$/, ''), functions);
    } catch {
      skipped++;
    }
  }
  if (byName.size === 0) throw new Error(`no GTFOBins entry under ${dir} (expected a GTFOBins checkout or its _gtfobins directory)`);
  log.info({ dir: entries, binaries: byName.size, skipped }, 'GTFOBins loaded');
  return new GtfobinsIndex(byName);
}
