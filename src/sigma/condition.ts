// The Sigma condition grammar: `and`, `or`, `not`, parentheses, `1 of`/`all of`/`N of` with `them` or an
// identifier pattern (`_`-prefixed identifiers are excluded from `them`), precedence not > and > or.
// Obsolete Sigma 1.x syntax (pipe aggregations, `near`) is rejected. Pure.

import type { ConditionNode } from './ir.ts';
import { and, not, or } from './ir.ts';
import { CompileError } from './values.ts';

type Tok = { t: '(' | ')' | 'and' | 'or' | 'not' | 'of' | 'them' | 'id' | 'num' | 'all'; v: string };

function lex(text: string): Tok[] {
  const toks: Tok[] = [];
  const re = /\s*(\(|\)|\||[^\s()|]+)/gy;
  let m: RegExpExecArray | null;
  let pos = 0;
  while ((m = re.exec(text)) !== null) {
    pos = re.lastIndex;
    const w = m[1];
    if (w === '|' && /^\|\s*near\b/i.test(text.slice(m.index))) throw new CompileError(`obsolete '| near' operator in condition (Sigma 1.x); write a temporal correlation rule instead`);
    if (w === '|') throw new CompileError(`obsolete aggregation '${text.slice(m.index).trim()}' in condition (Sigma 1.x pipe syntax); write a correlation rule instead`);
    const lw = w.toLowerCase();
    if (lw === 'near') throw new CompileError(`obsolete 'near' operator in condition; write a temporal correlation rule instead`);
    if (w === '(' || w === ')') toks.push({ t: w, v: w });
    else if (lw === 'and' || lw === 'or' || lw === 'not' || lw === 'of' || lw === 'them' || lw === 'all') toks.push({ t: lw, v: lw });
    else if (/^\d+$/.test(w)) toks.push({ t: 'num', v: w });
    else if (lw === 'any') toks.push({ t: 'num', v: '1' });
    else if (/^[\w*.-]+$/.test(w)) toks.push({ t: 'id', v: w });
    else throw new CompileError(`unexpected '${w}' in condition`);
  }
  if (text.slice(pos).trim() !== '') throw new CompileError(`cannot parse condition near '${text.slice(pos)}'`);
  return toks;
}

export interface ConditionScope {
  names: string[]; // detection identifiers in definition order
  resolve(name: string): ConditionNode;
}

function patternNames(scope: ConditionScope, pattern: string): string[] {
  if (pattern === 'them') return scope.names.filter((n) => !n.startsWith('_'));
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\-]/g, '\\$&')).join('.*')}$`);
  const names = scope.names.filter((n) => re.test(n));
  if (names.length === 0) throw new CompileError(`'${pattern}' matches no detection identifier`);
  return names;
}

/** Parses a condition string into an IR node, resolving identifiers through `scope`. */
export function parseCondition(text: string, scope: ConditionScope): ConditionNode {
  const toks = lex(text);
  let i = 0;
  const peek = (): Tok | undefined => toks[i];
  const expect = (t: Tok['t']): Tok => {
    const k = toks[i++];
    if (!k || k.t !== t) throw new CompileError(`expected '${t}' in condition '${text}'`);
    return k;
  };
  const parseOr = (): ConditionNode => {
    const parts = [parseAnd()];
    while (peek()?.t === 'or') { i++; parts.push(parseAnd()); }
    return or(parts);
  };
  const parseAnd = (): ConditionNode => {
    const parts = [parseNot()];
    while (peek()?.t === 'and') { i++; parts.push(parseNot()); }
    return and(parts);
  };
  const parseNot = (): ConditionNode => {
    if (peek()?.t === 'not') { i++; return not(parseNot()); }
    return parseAtom();
  };
  const parseAtom = (): ConditionNode => {
    const k = toks[i++];
    if (!k) throw new CompileError(`condition '${text}' ends unexpectedly`);
    if (k.t === '(') { const e = parseOr(); expect(')'); return e; }
    if (k.t === 'num' || k.t === 'all') {
      expect('of');
      const target = toks[i++];
      if (!target || (target.t !== 'them' && target.t !== 'id')) throw new CompileError(`'of' must be followed by 'them' or an identifier pattern`);
      const nodes = patternNames(scope, target.t === 'them' ? 'them' : target.v).map((n) => scope.resolve(n));
      if (k.t === 'all') return and(nodes);
      const n = Number(k.v);
      if (n === 1) return or(nodes);
      return atLeast(n, nodes);
    }
    if (k.t === 'id') {
      if (k.v.includes('*')) throw new CompileError(`wildcard identifier '${k.v}' needs '1 of' or 'all of'`);
      if (!scope.names.includes(k.v)) throw new CompileError(`condition references undefined identifier '${k.v}'`);
      return scope.resolve(k.v);
    }
    throw new CompileError(`unexpected '${k.v}' in condition '${text}'`);
  };
  const node = parseOr();
  if (i < toks.length) throw new CompileError(`unexpected '${toks[i].v}' in condition '${text}'`);
  return node;
}

/** `N of` for N > 1: an OR over every N-combination, bounded to keep rules small. */
function atLeast(n: number, nodes: ConditionNode[]): ConditionNode {
  if (n > nodes.length) return { op: 'false' };
  const combos: ConditionNode[] = [];
  const pick = (start: number, acc: ConditionNode[]): void => {
    if (combos.length > 1000) throw new CompileError(`'${n} of' over ${nodes.length} identifiers is too large`);
    if (acc.length === n) { combos.push(and(acc)); return; }
    for (let j = start; j < nodes.length; j++) pick(j + 1, [...acc, nodes[j]]);
  };
  pick(0, []);
  return or(combos);
}
