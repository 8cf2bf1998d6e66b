// Layers that hold: "pure core, adapters at the edge" (README, docs/architecture.md), checked on every import of
// src/ and web/src/ (parsed by ./imports.ts). Fails naming the file, the line and the import when
//   1. a pure core module imports an I/O module: a Node built-in that does I/O, a database, bus or network client
//      package, a module of an adapter folder, or a src/ module that does I/O itself or through its imports;
//   2. the API imports the CLI;
//   3. a module outside src/server and src/cli imports src/server (only the CLI assembles the server);
//   4. the folders of src/ import each other in a cycle;
//   5. the console (web/src) imports src/ other than browser-safe pure modules (values from src/schema only, types
//      from the pure core), e.g. a store's DDL;
//   and when a src/ folder is not classified below, or an import is computed (`import(expr)`) outside the one
//   place that may do it.
// Today's exceptions are in ALLOWED, each with its reason: the list may only shrink. An entry whose import is gone or
// no longer breaks its rule fails the test too, so the list stays exact (remove the entry with the fix).
// Run: node --test 'test/architecture/*.test.ts'

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseImports, type ImportRef } from './imports.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

// ---- classification ---------------------------------------------------------------------------------------------

type Kind = 'pure' | 'adapter' | 'service';
/**
 * Every folder of src/, with its kind. pure: computation only, no I/O (unit-tested on its own); adapter: talks to
 * disks, networks, databases, processes, or assembles those that do (nothing pure may import it, even for types);
 * service: logic between the two (uses adapters through their interfaces, may do some I/O; checked for cycles).
 * Future folders named in ARCHITECTURE.md (dlp, risk) are pure from their first file.
 */
const FOLDERS: Record<string, Kind> = {
  'src/schema': 'pure', 'src/sigma': 'pure', 'src/detect': 'pure', 'src/tree': 'pure', 'src/ledger': 'pure',
  'src/incidents': 'pure', 'src/identity': 'pure', 'src/dlp': 'pure', 'src/risk': 'pure', 'src/intel': 'pure', 'src/enrich': 'pure',
  'src/stores': 'adapter', 'src/bus': 'adapter', 'src/server': 'adapter', 'src/api': 'adapter', 'src/cli': 'adapter',
  'src/agent': 'adapter', 'src/spool': 'adapter',
  'src/alerts': 'service', 'src/response': 'service', 'src/pki': 'service', 'src/metrics': 'service', 'src/util': 'service',
};

/** Modules of pure folders that do I/O, and why: they are not pure, so no pure module may import them. */
const NOT_PURE: Record<string, string> = {
  'src/detect/loader.ts': 'reads rule files and directories (node:fs)',
  'src/schema/wire.ts': 'reads vigil.proto from disk when first imported (protobufjs loadSync)',
};

/** Node built-ins that do I/O (node:crypto, node:zlib, node:path, node:url, node:util… are computation). */
const IO_BUILTINS = new Set(['fs', 'net', 'http', 'https', 'http2', 'child_process', 'dgram', 'worker_threads', 'sqlite',
  'dns', 'tls', 'cluster', 'inspector', 'readline', 'repl', 'tty']);
/** Packages that reach a database, a bus, the network or a log stream. */
const IO_PACKAGES = new Set(['pg', 'redis', 'chdb', '@clickhouse/client', '@grpc/grpc-js', 'fastify', 'undici', 'pino',
  'nodemailer', 'ws', 'ioredis']);
const IO_SCOPES = ['@nats-io/', '@fastify/', '@opentelemetry/'];

/** The only modules that may import a computed specifier (`import(expr)`), and why. */
const COMPUTED_IMPORTS: Record<string, string> = {
  'src/cli/main.ts': 'loads the sub-command named on the command line from src/cli/commands/',
};

/**
 * Known breaches, to be fixed, each with its reason and issue. Key: `<rule> <importing file> -> <imported module>`,
 * e.g. `'cycle src/a/x.ts -> src/b/y.ts': 'why not yet (issue 19)'`. Never add to this list to make a new import
 * pass: fix the import (move the module to the layer it belongs to). Empty since issue 19 removed the back edges
 * (docs/architecture.md lists them).
 */
const ALLOWED: Record<string, string> = {};

// ---- the import graph -------------------------------------------------------------------------------------------

interface Edge extends ImportRef {
  from: string; // path from the repository root
  target: string; // a repository path (./ and ../ specifiers), `node:<name>` or a package name; '<computed>'
  internal: boolean;
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(join(ROOT, dir))) return [];
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)))
    .sort();
}

function packageOf(specifier: string): string {
  if (specifier.startsWith('node:')) return `node:${specifier.slice(5).split('/')[0]}`;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  return isBuiltin(name) ? `node:${name}` : name;
}
const BUILTINS = new Set(['assert', 'async_hooks', 'buffer', 'child_process', 'cluster', 'crypto', 'dgram', 'dns', 'events',
  'fs', 'http', 'http2', 'https', 'inspector', 'module', 'net', 'os', 'path', 'perf_hooks', 'process', 'querystring',
  'readline', 'repl', 'stream', 'string_decoder', 'timers', 'tls', 'tty', 'url', 'util', 'v8', 'vm', 'worker_threads', 'zlib']);
function isBuiltin(name: string): boolean { return BUILTINS.has(name); }

function edgeOf(file: string, ref: ImportRef): Edge {
  if (ref.specifier === null) return { ...ref, from: file, target: '<computed>', internal: false };
  if (ref.specifier.startsWith('.')) {
    return { ...ref, from: file, target: relative(ROOT, resolve(ROOT, dirname(file), ref.specifier)), internal: true };
  }
  return { ...ref, from: file, target: packageOf(ref.specifier), internal: false };
}

function edgesOf(file: string): Edge[] {
  return parseImports(readFileSync(join(ROOT, file), 'utf8')).map((ref) => edgeOf(file, ref));
}

/** src/<folder> of a src/ path, 'web/src' for the console, else null. */
function folderOf(path: string): string | null {
  const m = /^src\/([^/]+)\//.exec(path);
  if (m) return `src/${m[1]}`;
  if (path.startsWith('web/src/')) return 'web/src';
  return null;
}

const files = [...sourceFiles('src'), ...sourceFiles('web/src')];
let edges = new Map(files.map((f) => [f, edgesOf(f)]));
let all = [...edges.values()].flat();

const isIoExternal = (target: string): boolean =>
  (target.startsWith('node:') && IO_BUILTINS.has(target.slice(5))) || IO_PACKAGES.has(target) || IO_SCOPES.some((s) => target.startsWith(s));

const kindOf = (file: string): Kind | undefined => { const f = folderOf(file); return f ? FOLDERS[f] : undefined; };
const isPure = (file: string): boolean => kindOf(file) === 'pure' && !(file in NOT_PURE);

/**
 * Why a module does I/O, or null: it is in an adapter folder, is listed in NOT_PURE, or imports (values, not
 * types) an I/O built-in or package or a module that does I/O. Memoised; cycles between modules count as no I/O
 * on the way back, which the other modules of the cycle then decide.
 */
const ioMemo = new Map<string, string | null>();
function ioReason(file: string): string | null {
  if (ioMemo.has(file)) return ioMemo.get(file)!;
  ioMemo.set(file, null);
  let reason: string | null = null;
  if (kindOf(file) === 'adapter') reason = `${file} is in an adapter folder (${folderOf(file)})`;
  else if (file in NOT_PURE) reason = `${file} ${NOT_PURE[file]}`;
  else {
    for (const e of edges.get(file) ?? []) {
      if (e.typeOnly) continue;
      if (!e.internal && isIoExternal(e.target)) { reason = `${file} imports ${e.target}`; break; }
      if (e.internal && edges.has(e.target)) {
        const r = ioReason(e.target);
        if (r !== null) { reason = e.target === r.split(' ')[0] ? r : `${file} → ${r}`; break; }
      }
    }
  }
  ioMemo.set(file, reason);
  return reason;
}

/** Whether a module and what it imports (values) would run in a browser: no Node built-in, no package. */
function browserSafe(file: string, seen = new Set<string>()): string | null {
  if (seen.has(file)) return null;
  seen.add(file);
  for (const e of edges.get(file) ?? []) {
    if (e.typeOnly) continue;
    if (!e.internal) return `${file} imports ${e.target}`;
    const r = browserSafe(e.target, seen);
    if (r !== null) return r;
  }
  return null;
}

// ---- the rules --------------------------------------------------------------------------------------------------

interface Breach { rule: string; edge: Edge; why: string }
const key = (b: { rule: string; edge: Edge }): string => `${b.rule} ${b.edge.from} -> ${b.edge.target}`;
const where = (e: Edge): string => `${e.from}:${e.line} imports '${e.specifier ?? '<computed>'}'${e.typeOnly ? ' (type only)' : ''}`;

function pureCoreBreaches(): Breach[] {
  const out: Breach[] = [];
  for (const e of all) {
    if (!isPure(e.from)) continue;
    if (!e.internal) {
      if (e.target === '<computed>') continue; // rule 'computed'
      if (!e.typeOnly && isIoExternal(e.target)) out.push({ rule: 'pure-io', edge: e, why: `${e.target} does I/O` });
      continue;
    }
    if (kindOf(e.target) === 'adapter') {
      out.push({ rule: 'pure-io', edge: e, why: `${folderOf(e.target)} is an adapter folder (even a type from it ties the core to it: move the interface into the core)` });
      continue;
    }
    if (e.typeOnly || !e.target.startsWith('src/')) continue;
    const r = ioReason(e.target);
    if (r !== null) out.push({ rule: 'pure-io', edge: e, why: `it does I/O: ${r}` });
  }
  return out;
}

function apiCliBreaches(): Breach[] {
  return all.filter((e) => folderOf(e.from) === 'src/api' && e.internal && folderOf(e.target) === 'src/cli')
    .map((edge) => ({ rule: 'api-cli', edge, why: 'the API must not depend on the command line' }));
}

function serverBreaches(): Breach[] {
  return all.filter((e) => e.internal && folderOf(e.target) === 'src/server' && !['src/server', 'src/cli'].includes(folderOf(e.from) ?? ''))
    .map((edge) => ({ rule: 'server-top', edge, why: 'only src/cli (and src/server itself) may import src/server: move what is shared below it' }));
}

function webBreaches(): Breach[] {
  const out: Breach[] = [];
  for (const e of all) {
    if (folderOf(e.from) !== 'web/src' || !e.internal || !e.target.startsWith('src/')) continue;
    const folder = folderOf(e.target) ?? '';
    if (FOLDERS[folder] !== 'pure' || !isPure(e.target)) {
      out.push({ rule: 'web', edge: e, why: `${folder} is not pure core: the console may import only browser-safe pure modules` });
    } else if (!e.typeOnly && folder !== 'src/schema') {
      out.push({ rule: 'web', edge: e, why: 'from the pure core other than src/schema the console imports types only (import type)' });
    } else if (!e.typeOnly) {
      const r = browserSafe(e.target);
      if (r !== null) out.push({ rule: 'web', edge: e, why: `not browser-safe: ${r}` });
    }
  }
  return out;
}

function computedBreaches(): Breach[] {
  return all.filter((e) => e.target === '<computed>' && !(e.from in COMPUTED_IMPORTS))
    .map((edge) => ({ rule: 'computed', edge, why: 'a computed import cannot be checked: import a literal path' }));
}

/** Folder-level graph of src/ (every import, types too), without the given edges. */
function folderGraph(skip: Set<string>): Map<string, Map<string, Edge[]>> {
  const g = new Map<string, Map<string, Edge[]>>();
  for (const e of all) {
    const a = folderOf(e.from);
    const b = e.internal ? folderOf(e.target) : null;
    if (!a || !b || a === b || !a.startsWith('src/') || !b.startsWith('src/')) continue;
    if (skip.has(`cycle ${e.from} -> ${e.target}`)) continue;
    if (!g.has(a)) g.set(a, new Map());
    const out = g.get(a)!;
    if (!out.has(b)) out.set(b, []);
    out.get(b)!.push(e);
  }
  return g;
}

/** Strongly connected components with more than one folder (Tarjan). */
function cycles(g: Map<string, Map<string, Edge[]>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); on.add(v);
    for (const w of g.get(v)?.keys() ?? []) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do { w = stack.pop()!; on.delete(w); scc.push(w); } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of [...g.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}

function cycleBreaches(skip: Set<string>): Breach[] {
  const g = folderGraph(skip);
  const out: Breach[] = [];
  for (const scc of cycles(g)) {
    const inside = new Set(scc);
    for (const a of scc) {
      for (const [b, es] of g.get(a) ?? []) {
        if (!inside.has(b)) continue;
        for (const edge of es) out.push({ rule: 'cycle', edge, why: `folders ${scc.join(', ')} import each other in a cycle` });
      }
    }
  }
  return out;
}

function report(breaches: Breach[]): string {
  return breaches.map((b) => `  [${b.rule}] ${where(b.edge)}: ${b.why}`).join('\n');
}

// ---- tests ------------------------------------------------------------------------------------------------------

test('every folder of src/ has a layer', () => {
  const present = [...new Set(files.map(folderOf).filter((f): f is string => f !== null && f.startsWith('src/')))];
  const unknown = present.filter((f) => !(f in FOLDERS));
  assert.deepEqual(unknown, [], `classify these folders in FOLDERS of ${relative(ROOT, fileURLToPath(import.meta.url))} and in docs/architecture.md`);
  for (const f of Object.keys(NOT_PURE)) assert.ok(existsSync(join(ROOT, f)), `NOT_PURE lists ${f}, which no longer exists`);
});

test('the import parser finds every import statement written at the start of a line', () => {
  const missed: string[] = [];
  for (const f of files) {
    const lines = readFileSync(join(ROOT, f), 'utf8').split('\n');
    const found = new Set(edges.get(f)!.map((e) => e.line));
    lines.forEach((l, i) => { if (/^(import\s|export\s.*\sfrom\s+['"])/.test(l) && !found.has(i + 1)) missed.push(`${f}:${i + 1}: ${l}`); });
  }
  assert.deepEqual(missed, []);
  for (const e of all) if (e.internal && /\.tsx?$/.test(e.target)) assert.ok(existsSync(join(ROOT, e.target)), `${where(e)}: no such file`);
});

const direct = (): Breach[] => [...pureCoreBreaches(), ...apiCliBreaches(), ...serverBreaches(), ...webBreaches(), ...computedBreaches()];

test('pure core, adapters at the edge: no import breaks a layering rule', () => {
  const found = direct().filter((b) => !(key(b) in ALLOWED));
  assert.equal(found.length, 0, `imports that break the layers (fix them; see docs/architecture.md):\n${report(found)}`);
});

test('the folders of src/ import each other without a cycle', () => {
  const skip = new Set(Object.keys(ALLOWED).filter((k) => k.startsWith('cycle ')));
  const found = cycleBreaches(skip);
  assert.equal(found.length, 0, `folder cycles (move the module that closes the cycle to the lower folder; see docs/architecture.md):\n${report(found)}`);
});

test('the allow-list is exact: every entry is an import that still breaks its rule', () => {
  const breaking = new Set(direct().map(key));
  const stale: string[] = [];
  for (const k of Object.keys(ALLOWED)) {
    if (k.startsWith('cycle ')) {
      // still needed if, with it back in the graph, its two folders are in one cycle
      const others = new Set(Object.keys(ALLOWED).filter((o) => o.startsWith('cycle ') && o !== k));
      if (!cycleBreaches(others).some((b) => key(b) === k)) stale.push(k);
    } else if (!breaking.has(k)) stale.push(k);
  }
  assert.deepEqual(stale, [], 'these ALLOWED entries no longer break their rule (or the import is gone): remove them');
});

test('the rules catch each kind of breach (a made-up graph)', () => {
  const made: Record<string, [string | null, { typeOnly?: boolean }?][]> = {
    'src/sigma/a.ts': [['node:fs'], ['node:fs', { typeOnly: true }], ['node:crypto'], ['../stores/x.ts', { typeOnly: true }], ['./b.ts']],
    'src/sigma/b.ts': [['../util/c.ts']],
    'src/util/c.ts': [['node:child_process']],
    'src/api/r.ts': [['../cli/commands/x.ts'], ['../server/m.ts']],
    'src/bus/q.ts': [['../server/m.ts', { typeOnly: true }]],
    'src/cli/commands/x.ts': [['../../server/m.ts']],
    'src/server/m.ts': [['../api/r.ts']],
    'src/stores/x.ts': [['../response/y.ts']],
    'src/response/y.ts': [['../stores/x.ts', { typeOnly: true }]],
    'src/schema/s.ts': [['protobufjs']],
    'src/schema/ok.ts': [['./event.ts']],
    'src/schema/event.ts': [],
    'src/detect/t.ts': [],
    'web/src/p.tsx': [['../../src/stores/x.ts'], ['../../src/detect/t.ts'], ['../../src/detect/t.ts', { typeOnly: true }],
      ['../../src/schema/s.ts'], ['../../src/schema/ok.ts']],
    'src/cli/main.ts': [[null]],
    'src/agent/z.ts': [[null]],
  };
  const saved = { edges, all };
  try {
    edges = new Map(Object.entries(made).map(([f, refs]) => [f, refs.map(([specifier, o]) =>
      edgeOf(f, { specifier, line: 1, typeOnly: o?.typeOnly ?? false, kind: specifier === null ? 'dynamic' : 'static' }))]));
    all = [...edges.values()].flat();
    ioMemo.clear();
    const found = new Set([...direct(), ...cycleBreaches(new Set())].map(key));
    assert.deepEqual([...found].sort(), [
      'api-cli src/api/r.ts -> src/cli/commands/x.ts',
      'computed src/agent/z.ts -> <computed>',
      'cycle src/api/r.ts -> src/cli/commands/x.ts', // api -> cli -> server -> api
      'cycle src/api/r.ts -> src/server/m.ts',
      'cycle src/cli/commands/x.ts -> src/server/m.ts',
      'cycle src/response/y.ts -> src/stores/x.ts',
      'cycle src/server/m.ts -> src/api/r.ts',
      'cycle src/stores/x.ts -> src/response/y.ts',
      'pure-io src/sigma/a.ts -> node:fs', // a value import only; the type-only one and node:crypto pass
      'pure-io src/sigma/a.ts -> src/sigma/b.ts', // b.ts does I/O through src/util/c.ts
      'pure-io src/sigma/a.ts -> src/stores/x.ts', // an adapter folder, even for a type
      'pure-io src/sigma/b.ts -> src/util/c.ts',
      'server-top src/api/r.ts -> src/server/m.ts',
      'server-top src/bus/q.ts -> src/server/m.ts',
      'web web/src/p.tsx -> src/detect/t.ts', // a value from the core other than src/schema (the type import passes)
      'web web/src/p.tsx -> src/schema/s.ts', // not browser-safe (protobufjs)
      'web web/src/p.tsx -> src/stores/x.ts',
    ]);
  } finally {
    ({ edges, all } = saved);
    ioMemo.clear();
  }
});
