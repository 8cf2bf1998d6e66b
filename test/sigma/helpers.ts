// Test helpers: compile one Sigma rule text and evaluate it on events with the real compiler and predicates.
import { compilePredicate, MatchContext } from '../../src/sigma/predicate.ts';
import { compileSigma } from '../../src/sigma/parser.ts';
import type { CompileOptions, CompileResult } from '../../src/sigma/parser.ts';

/** A minimal rule around a detection block (YAML text, indented by 2 under `detection:`). */
export function rule(detection: string, extra = ''): string {
  return `title: t\nid: 00000000-0000-4000-8000-000000000001\nlogsource:\n  product: test\n${extra}detection:\n${detection.replace(/^/gm, '  ')}\n`;
}

export function compileOne(text: string, opts: CompileOptions = {}): CompileResult {
  return compileSigma([{ path: 'rule.yml', text }], opts);
}

/** Compiles `text` (must load) and returns a matcher over events. */
export function matcher(text: string, opts: CompileOptions = {}): (ev: Record<string, unknown>) => boolean {
  const r = compileOne(text, opts);
  if (r.rules.length !== 1) throw new Error(`rule did not load: ${JSON.stringify(r.rejected)}`);
  const p = compilePredicate(r.rules[0].conditions);
  const ctx = new MatchContext();
  return (ev) => { ctx.reset(ev); return p(ctx); };
}

/** The rejection reason of a rule text that must not load. */
export function rejection(text: string, opts: CompileOptions = {}): string {
  const r = compileOne(text, opts);
  if (r.rules.length !== 0 || r.rejected.length === 0) throw new Error('rule unexpectedly loaded');
  return r.rejected[0].reason;
}
