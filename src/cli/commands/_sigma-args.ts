// Argument parsing shared by `vigil rules` and `vigil scan`: flags that take several values
// (`--rules A B --events C`), boolean flags, and the compile options they name.

export interface ParsedArgs { lists: Record<string, string[]>; flags: Set<string>; positional: string[] }

/** `--name v1 v2 …` collects values until the next `--flag`; names in `booleans` take no value. */
export function parseMultiArgs(args: string[], booleans: string[]): ParsedArgs {
  const out: ParsedArgs = { lists: {}, flags: new Set(), positional: [] };
  let current: string[] = out.positional;
  for (const a of args) {
    if (a.startsWith('--')) {
      const name = a.slice(2);
      if (booleans.includes(name)) { out.flags.add(name); current = out.positional; continue; }
      current = out.lists[name] ??= [];
    } else if (a === '-h') out.flags.add('help');
    else current.push(a);
  }
  return out;
}

export function single(p: ParsedArgs, name: string): string | undefined {
  const v = p.lists[name];
  if (v && v.length !== 1) throw new Error(`--${name} takes one value`);
  return v?.[0];
}
