// Runtime validation of a VigilEvent (ARCHITECTURE "ingest": validate every batch, reject the
// malformed with a precise error). Owns the field bounds: over-long strings and arrays are cut to
// their bound in place and their dotted paths recorded in event.truncated, never dropped silently.
// Identifiers (event/agent/tenant/entity ids) are never cut: an over-long id is an error.
// Unknown fields are errors too (they would otherwise be lost at storage). Pure, allocation-light:
// the schema is compiled once into tables and the input object is checked (and cut) in place.

import { EVENT_TYPES } from './event.ts';
import type { VigilEvent } from './event.ts';

export type ValidationResult =
  | { ok: true; event: VigilEvent; truncated: string[] }
  | { ok: false; error: string };

/** Bounds in UTF-8 bytes (strings) and items (arrays). */
export const BOUNDS = {
  commandLine: 32 * 1024,
  arg: 32 * 1024,
  args: 1024,
  path: 4 * 1024,
  name: 256,
  id: 256,
  short: 64,
  labels: 64,
  label: 1024,
  list: 256,
} as const;

type Field =
  | { kind: 'str'; max: number }
  | { kind: 'id' }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'ts' }
  | { kind: 'enum'; values: ReadonlySet<string> }
  | { kind: 'bool' }
  | { kind: 'strs'; maxItems: number; maxItem: number; flag?: string }
  | { kind: 'obj'; spec: Spec }
  | { kind: 'objs'; maxItems: number; spec: Spec }
  | { kind: 'labels' }
  | { kind: 'any' };

interface CompiledField {
  f: Field;
  path: string;
}

interface Spec {
  fields: Map<string, CompiledField>;
  required: string[];
}

interface FieldDefs {
  [key: string]: Field | [Field, 'required'] | FieldDefs;
}

const str = (max: number): Field => ({ kind: 'str', max });
const int = (min: number, max: number): Field => ({ kind: 'int', min, max });
const oneOf = (...values: string[]): Field => ({ kind: 'enum', values: new Set(values) });
const ID: Field = { kind: 'id' };
const TS: Field = { kind: 'ts' };
const BOOL: Field = { kind: 'bool' };
const PID = int(0, 2 ** 31 - 1);
const PORT = int(0, 65535);
const UINT = int(0, Number.MAX_SAFE_INTEGER);
const list = (maxItems: number, maxItem: number, flag?: string): Field => ({ kind: 'strs', maxItems, maxItem, flag });
const required = (f: Field): [Field, 'required'] => [f, 'required'];

function compile(prefix: string, defs: FieldDefs): Spec {
  const spec: Spec = { fields: new Map(), required: [] };
  for (const [key, def] of Object.entries(defs)) {
    const path = prefix ? `${prefix}.${key}` : key;
    let f: Field;
    if (Array.isArray(def)) {
      f = def[0];
      spec.required.push(key);
    } else if ('kind' in def && typeof def.kind === 'string') {
      f = def as Field;
    } else {
      f = { kind: 'obj', spec: compile(path, def as FieldDefs) };
    }
    spec.fields.set(key, { f, path });
  }
  return spec;
}

const PARENT_DEFS: FieldDefs = {
  pid: PID,
  entity_id: ID,
  executable: str(BOUNDS.path),
  command_line: str(BOUNDS.commandLine),
  name: str(BOUNDS.name),
  start: TS,
};

const EVENT_SPEC: Spec = compile('', {
  '@timestamp': required(TS),
  agent: required({
    kind: 'obj',
    spec: compile('agent', {
      id: required(ID),
      name: str(BOUNDS.name),
      hostname: str(BOUNDS.name),
      tenant_id: required(ID),
      version: str(BOUNDS.short),
    }),
  }),
  event: required({
    kind: 'obj',
    spec: compile('event', {
      id: required(ID),
      type: required(oneOf(...EVENT_TYPES)),
      category: str(BOUNDS.short),
      action: str(BOUNDS.short),
      ingested: TS,
      outcome: oneOf('success', 'failure', 'unknown'),
      truncated: list(BOUNDS.list, BOUNDS.name),
      sequence: UINT,
    }),
  }),
  process: {
    ...PARENT_DEFS,
    ppid: PID,
    tid: PID,
    args: list(BOUNDS.args, BOUNDS.arg, 'args_truncated'),
    args_truncated: BOOL,
    working_directory: str(BOUNDS.path),
    exit_code: int(-(2 ** 31), 2 ** 31 - 1),
    signal: int(0, 255),
    hash: { sha256: str(BOUNDS.short), sha1: str(BOUNDS.short), md5: str(BOUNDS.short) },
    file: { size: UINT, inode: str(BOUNDS.short), device: str(BOUNDS.short), mtime: TS },
    parent: PARENT_DEFS,
  },
  user: {
    id: str(BOUNDS.short),
    name: str(BOUNDS.name),
    effective: { id: str(BOUNDS.short), name: str(BOUNDS.name) },
    group: { id: str(BOUNDS.short), name: str(BOUNDS.name) },
  },
  host: {
    id: ID,
    hostname: str(BOUNDS.name),
    os: { platform: str(BOUNDS.short), kernel: str(BOUNDS.name) },
  },
  file: {
    path: str(BOUNDS.path),
    target_path: str(BOUNDS.path),
    mode: str(BOUNDS.short),
    owner: str(BOUNDS.name),
  },
  source: { ip: str(BOUNDS.short), port: PORT },
  destination: { ip: str(BOUNDS.short), port: PORT },
  network: {
    transport: oneOf('tcp', 'udp'),
    type: oneOf('ipv4', 'ipv6'),
    direction: oneOf('outbound', 'inbound'),
  },
  container: { cgroup_id: str(BOUNDS.short), id: str(BOUNDS.short), runtime: str(BOUNDS.short) },
  orchestrator: {
    type: str(BOUNDS.short),
    namespace: str(BOUNDS.name),
    resource: { type: str(BOUNDS.short), name: str(BOUNDS.name), id: str(BOUNDS.short) },
  },
  dns: {
    type: oneOf('query', 'answer'),
    id: str(BOUNDS.short),
    response_code: str(BOUNDS.short),
    header_flags: list(16, BOUNDS.short),
    question: { name: str(BOUNDS.name), type: str(BOUNDS.short) },
    answers: { kind: 'objs', maxItems: 64, spec: compile('dns.answers', { name: str(BOUNDS.name), type: str(BOUNDS.short), ttl: UINT, data: str(BOUNDS.name) }) },
    resolved_ip: list(64, BOUNDS.short),
  },
  dlp: {
    policy: str(BOUNDS.short), rule: str(BOUNDS.name), kind: oneOf('detector', 'dataset'), matches: UINT, cells: UINT,
    confidence: int(0, 100), excerpts: list(16, BOUNDS.name), bytes_scanned: UINT, action: oneOf('record', 'alert'),
    severity: oneOf('low', 'medium', 'high', 'critical'),
  },
  threat: { mitre: list(BOUNDS.list, BOUNDS.short), gtfobins: list(BOUNDS.list, BOUNDS.short) },
  winlog: { kind: 'any' },
  labels: { kind: 'labels' },
});

// Validation state of the current call (validation is synchronous, so module state is safe).
let cut: string[] | undefined;

export function validateEvent(x: unknown): ValidationResult {
  cut = undefined;
  if (!isPlainObject(x)) return { ok: false, error: `event: expected an object, got ${typeName(x)}` };
  const error = checkObject(x, EVENT_SPEC, '');
  if (error) return { ok: false, error };
  const ev = x as unknown as VigilEvent;
  const truncated = cut ?? [];
  if (truncated.length > 0) ev.event.truncated = mergeTruncated(ev.event.truncated, truncated);
  return { ok: true, event: ev, truncated };
}

function checkObject(o: Record<string, unknown>, spec: Spec, where: string): string | undefined {
  for (const key of spec.required) {
    if (o[key] === undefined) return `${spec.fields.get(key)!.path}: required`;
  }
  for (const key in o) {
    const v = o[key];
    if (v === undefined) continue;
    const cf = spec.fields.get(key);
    if (!cf) return `${where ? `${where}.${key}` : key}: unknown field`;
    const err = checkField(o, key, v, cf);
    if (err) return err;
  }
  return undefined;
}

function checkField(o: Record<string, unknown>, key: string, v: unknown, { f, path }: CompiledField): string | undefined {
  switch (f.kind) {
    case 'str':
      if (typeof v !== 'string') return expected(path, 'a string', v);
      if (v.length > f.max / 3 && utf8Length(v) > f.max) {
        o[key] = truncateUtf8(v, f.max);
        (cut ??= []).push(path);
      }
      return undefined;
    case 'id':
      if (typeof v !== 'string' || v.length === 0) return expected(path, 'a non-empty string', v);
      if (v.length > BOUNDS.id) return `${path}: longer than ${BOUNDS.id} characters`;
      return undefined;
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) return expected(path, 'an integer', v);
      if (v < f.min || v > f.max) return `${path}: ${v} is out of range [${f.min}, ${f.max}]`;
      return undefined;
    case 'ts':
      if (typeof v !== 'string' || !isTimestamp(v)) return expected(path, 'an ISO 8601 timestamp', v);
      return undefined;
    case 'enum':
      if (typeof v !== 'string' || !f.values.has(v)) return expected(path, `one of ${[...f.values].join(', ')}`, v);
      return undefined;
    case 'bool':
      return typeof v === 'boolean' ? undefined : expected(path, 'a boolean', v);
    case 'strs':
      return checkStrings(o, key, v, f, path);
    case 'obj':
      return isPlainObject(v) ? checkObject(v, f.spec, path) : expected(path, 'an object', v);
    case 'objs':
      return checkObjects(v, f, path);
    case 'labels':
      return checkLabels(v, path);
    case 'any':
      return isPlainObject(v) ? undefined : expected(path, 'an object', v);
  }
}

function checkStrings(
  o: Record<string, unknown>,
  key: string,
  v: unknown,
  f: Extract<Field, { kind: 'strs' }>,
  path: string,
): string | undefined {
  if (!Array.isArray(v)) return expected(path, 'an array of strings', v);
  let wasCut = false;
  if (v.length > f.maxItems) {
    v.length = f.maxItems;
    wasCut = true;
  }
  for (let i = 0; i < v.length; i++) {
    const s = v[i];
    if (typeof s !== 'string') return expected(`${path}[${i}]`, 'a string', s);
    if (s.length > f.maxItem / 3 && utf8Length(s) > f.maxItem) {
      v[i] = truncateUtf8(s, f.maxItem);
      wasCut = true;
    }
  }
  if (wasCut) {
    (cut ??= []).push(path);
    if (f.flag) o[f.flag] = true;
  }
  return undefined;
}

/** A bounded list of objects of one spec; items past the bound are cut. */
function checkObjects(v: unknown, f: Extract<Field, { kind: 'objs' }>, path: string): string | undefined {
  if (!Array.isArray(v)) return expected(path, 'an array of objects', v);
  if (v.length > f.maxItems) {
    v.length = f.maxItems;
    (cut ??= []).push(path);
  }
  for (let i = 0; i < v.length; i++) {
    const item: unknown = v[i];
    if (!isPlainObject(item)) return expected(`${path}[${i}]`, 'an object', item);
    const err = checkObject(item, f.spec, `${path}[${i}]`);
    if (err) return err;
  }
  return undefined;
}

function checkLabels(v: unknown, path: string): string | undefined {
  if (!isPlainObject(v)) return expected(path, 'an object of strings', v);
  let n = 0;
  for (const k in v) {
    if (++n > BOUNDS.labels) return `${path}: more than ${BOUNDS.labels} labels`;
    const s = v[k];
    if (typeof s !== 'string') return expected(`${path}.${k}`, 'a string', s);
    if (k.length > BOUNDS.name) return `${path}: label name longer than ${BOUNDS.name} characters`;
    if (s.length > BOUNDS.label / 3 && utf8Length(s) > BOUNDS.label) {
      v[k] = truncateUtf8(s, BOUNDS.label);
      (cut ??= []).push(`${path}.${k}`);
    }
  }
  return undefined;
}

function mergeTruncated(existing: string[] | undefined, added: string[]): string[] {
  if (!existing || existing.length === 0) return added.slice();
  const out = existing.slice();
  for (const p of added) if (!out.includes(p)) out.push(p);
  return out;
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

/** The two-digit number at `at` of a string whose shape TIMESTAMP has checked. */
const twoDigits = (s: string, at: number): number => (s.charCodeAt(at) - 48) * 10 + (s.charCodeAt(at + 1) - 48);

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

/**
 * An ISO 8601 date-time with a real calendar date, hours 00–23, minutes and seconds 00–59 and an offset of
 * at most 23:59. Checked digit by digit: Date.parse, used before, let a 30 February and 24:00:00 through
 * (and perf put ≈ 3 % of the ingest thread's CPU in V8's date parser, three timestamps an event).
 */
export function isTimestamp(s: string): boolean {
  if (!TIMESTAMP.test(s)) return false;
  const year = twoDigits(s, 0) * 100 + twoDigits(s, 2);
  const month = twoDigits(s, 5);
  const offset = s.length - 6; // where a ±hh:mm offset begins
  return month >= 1 && month <= 12
    && twoDigits(s, 8) >= 1 && twoDigits(s, 8) <= daysInMonth(year, month)
    && twoDigits(s, 11) <= 23 && twoDigits(s, 14) <= 59 && twoDigits(s, 17) <= 59
    && (s.endsWith('Z') || (twoDigits(s, offset + 1) <= 23 && twoDigits(s, offset + 4) <= 59));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function expected(path: string, what: string, v: unknown): string {
  return `${path}: expected ${what}, got ${typeName(v)}`;
}

/** UTF-8 length of a string, without allocating. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** The longest prefix of `s` whose UTF-8 encoding fits in `maxBytes`, never splitting a character. */
export function truncateUtf8(s: string, maxBytes: number): string {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length;
    const w = c < 0x80 ? 1 : c < 0x800 ? 2 : pair ? 4 : 3;
    if (n + w > maxBytes) return s.slice(0, i);
    n += w;
    if (pair) i++;
  }
  return s;
}
