// GTFOBins enrichment: the functions GTFOBins lists for an executable (shell, reverse-shell, file-read, sudo, suid…)
// put on the process events of that executable as `threat.gtfobins`, by the executable's base name. The entries are
// GTFOBins' own YAML files (GPL-3.0: read at run time from the configured directory, never copied into the
// repository); `functionsOfEntry` reads one entry's front matter. Pure.

import { parse as parseYaml } from 'yaml';
import { EVENT_CATEGORY, type VigilEvent } from '../schema/event.ts';

/** The function names of one GTFOBins entry (`---\nfunctions:\n  shell: …\n---`), sorted; none when it has none. */
export function functionsOfEntry(text: string): string[] {
  const m = /^---\r?\n([\s\S]*?)\r?\n---/.exec(text);
  const doc = parseYaml(m ? m[1] : text) as { functions?: unknown } | null;
  const f = doc?.functions;
  return f && typeof f === 'object' && !Array.isArray(f) ? Object.keys(f).sort() : [];
}

const baseName = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

export class GtfobinsIndex {
  private readonly byName: ReadonlyMap<string, readonly string[]>;

  /** `entries`: binary name → its functions. */
  constructor(entries: ReadonlyMap<string, readonly string[]>) {
    this.byName = entries;
  }

  get size(): number { return this.byName.size; }

  /** The functions of the executable at `path` (by its base name), or undefined when GTFOBins does not list it. */
  functionsOf(path: string): readonly string[] | undefined {
    return this.byName.get(baseName(path));
  }

  /** Sets `threat.gtfobins` on each process event whose executable GTFOBins lists (kept when already set). */
  enrich(events: VigilEvent[]): void {
    for (const ev of events) {
      const exe = ev.process?.executable;
      if (!exe || EVENT_CATEGORY[ev.event.type] !== 'process' || ev.threat?.gtfobins?.length) continue;
      const functions = this.functionsOf(exe);
      if (functions?.length) ev.threat = { ...ev.threat, gtfobins: [...functions] };
    }
  }
}
