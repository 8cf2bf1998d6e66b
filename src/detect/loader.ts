// Rule file loading: the only I/O of rule management. Reads rule files (`.yml`, `.yaml`, `.json`) from
// files and directories (recursively, in sorted order so results are stable) into rule sources, and the
// configuration files compilation takes (placeholder values, field schema).

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { fieldSchemaFrom } from '../sigma/fieldschema.ts';
import type { CompileOptions, RuleSource } from '../sigma/parser.ts';
import { vigilFieldMapper } from './logsources.ts';

const RULE_FILE = /\.(ya?ml|json)$/i;

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (RULE_FILE.test(name)) out.push(p);
  }
}

/** Every rule file under the given paths (a file path is taken as it is). */
export function ruleFiles(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (statSync(p).isDirectory()) walk(p, out); else out.push(p);
  }
  return out;
}

/** Reads the rule files under `paths` as sources for `compileSigma`. Throws when a path does not exist. */
export function loadRuleSources(paths: string[]): RuleSource[] {
  return ruleFiles(paths).map((path) => ({ path, text: readFileSync(path, 'utf8') }));
}

export interface OptionFiles { placeholders?: string; fieldSchema?: string }

/**
 * Compile options from configuration files: placeholder values (YAML or JSON map of name → value or list)
 * and a field schema in SigmaHQ's tests/logsource.json format. Vigil's field mapping is always applied.
 */
export function loadCompileOptions(files: OptionFiles): CompileOptions {
  const opts: CompileOptions = { fieldMapper: vigilFieldMapper };
  if (files.placeholders) {
    const doc = parseYaml(readFileSync(files.placeholders, 'utf8')) as unknown;
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${files.placeholders}: placeholders must be a map of name → values`);
    opts.placeholders = Object.fromEntries(Object.entries(doc as Record<string, unknown>).map(([k, v]) => [k, (Array.isArray(v) ? v : [v]).map(String)]));
  }
  if (files.fieldSchema) opts.fieldSchema = fieldSchemaFrom(JSON.parse(readFileSync(files.fieldSchema, 'utf8')) as unknown);
  return opts;
}
