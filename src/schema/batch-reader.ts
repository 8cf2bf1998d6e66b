// The ingest hot path's protobuf reader: an AgentMessage carrying an EventBatch, read straight from its
// bytes into schema-shaped events (`@timestamp` for the wire's `timestamp`), without protobufjs message
// instances, their toObject copy or a wire-form copy. Its tables are made from vigil.proto's reflection, so
// the proto stays the one definition. For every message protobufjs reads, the result equals its decode +
// toObject({longs: Number, defaults: false}): a field is there iff it is on the wire, the last occurrence
// of a singular field wins, unknown fields are skipped. It is stricter on malformed input, refused with an
// Error naming the field: a known field with the wrong wire type, a length or varint running past the end
// of its message, field number 0, groups; and it reads 10-byte varints as the spec says (protobufjs skips
// their last 5 bytes unread). No I/O; synchronous, so the read position is module state.

import protobuf from 'protobufjs';

// Field kinds (numbers: the reader switches on them for every field it reads).
const STRING = 0, UINT32 = 1, INT32 = 2, UINT64 = 3, BOOL = 4, STRINGS = 5, MESSAGE = 6, MESSAGES = 7, STRING_MAP = 8;

/**
 * `path` is relative to the innermost repeated message (an element: `batch.events[i]`). A string field also
 * remembers where its last value was in the message being read, and that value: many fields repeat from
 * event to event in a batch (agent, host, type, user, …), and an equal value is then the same string.
 */
interface Field {
  name: string; path: string; kind: number; wireType: number; table?: Table;
  lastRead: number; lastStart: number; lastLength: number; last: string;
  /** Stores a value as this field of a message object (generated: see fieldAccessors). */
  set: (o: Record<string, unknown>, v: unknown) => void;
  /** This field's list or map in a message object, made empty on first use (repeated and map fields). */
  collection: (o: Record<string, unknown>, empty: () => unknown) => unknown;
}
/** A message's fields by field number. */
type Table = (Field | undefined)[];

const SCALARS: Record<string, number> = { string: STRING, uint32: UINT32, int32: INT32, uint64: UINT64, bool: BOOL };
const MAX_DEPTH = 16;

function kindOf(f: protobuf.Field, path: string): number {
  if (f instanceof protobuf.MapField) {
    if (f.keyType === 'string' && f.type === 'string') return STRING_MAP;
  } else if (f.resolvedType instanceof protobuf.Type) {
    return f.repeated ? MESSAGES : MESSAGE;
  } else if (f.type === 'string') {
    return f.repeated ? STRINGS : STRING;
  } else if (!f.repeated && SCALARS[f.type] !== undefined) {
    return SCALARS[f.type];
  }
  throw new Error(`batch reader: ${path} (${f.repeated ? 'repeated ' : ''}${f.type}) is not a field type it reads`);
}

/**
 * A field's store and collection functions, generated with its name as a string literal (quoted by
 * JSON.stringify, so no name can be read as code): each has its own store site, which sees only objects of
 * its message type. One `o[f.name] = …` for every field of every type made every store megamorphic, ≈ 6 % of
 * the ingest thread's CPU (perf).
 */
function fieldAccessors(name: string): Pick<Field, 'set' | 'collection'> {
  const key = JSON.stringify(name);
  return {
    set: new Function('o', 'v', `o[${key}] = v;`) as Field['set'],
    collection: new Function('o', 'empty', `return o[${key}] ?? (o[${key}] = empty());`) as Field['collection'],
  };
}

/** The reading table of `t`; `renames` maps `Type.field` to the schema's name of the field. */
function compile(t: protobuf.Type, prefix: string, renames: Record<string, string>, depth = 0): Table {
  if (depth > MAX_DEPTH) throw new Error(`batch reader: ${prefix} nests too deeply`);
  const table: Table = [];
  for (const f of t.fieldsArray) {
    f.resolve();
    const name = renames[`${t.name}.${f.name}`] ?? f.name;
    const path = prefix ? `${prefix}.${name}` : name;
    const kind = kindOf(f, path);
    const field: Field = {
      name, path, kind, wireType: kind === UINT32 || kind === INT32 || kind === UINT64 || kind === BOOL ? 0 : 2,
      lastRead: 0, lastStart: 0, lastLength: 0, last: '', ...fieldAccessors(name),
    };
    if (kind === MESSAGE || kind === MESSAGES) field.table = compile(f.resolvedType as protobuf.Type, kind === MESSAGES ? '' : path, renames, depth + 1);
    table[f.id] = field;
  }
  return table;
}

// ---- the read position (one message is read synchronously at a time) ----

const NO_BYTES = Buffer.alloc(0);
let buf: Buffer = NO_BYTES;
let pos = 0;
let hi = 0; // the high 32 bits of the last varint
let reads = 0; // messages read so far: a Field's remembered value is of this one if its lastRead equals it
let element: Field | undefined; // the repeated message whose element is being read (for errors), and its index
let elementIndex = 0;

function fail(path: string, what: string): never {
  const at = element ? `${element.path}[${elementIndex}]${path ? '.' : ''}` : '';
  throw new Error(`${at}${path}: ${what} (at byte ${pos})`);
}

/** A varint's low 32 bits (its high 32 in `hi`); it must end before `end`. */
function varint(end: number, path: string): number {
  let lo = 0;
  let h = 0;
  for (let shift = 0; shift < 70; shift += 7) {
    if (pos >= end) fail(path, 'varint runs past the end of its message');
    const b = buf[pos++];
    if (shift < 28) lo |= (b & 0x7f) << shift;
    else if (shift === 28) {
      lo |= (b & 0x0f) << 28;
      h = (b & 0x7f) >> 4;
    } else h |= (b & 0x7f) << (shift - 32);
    if (b < 0x80) {
      hi = h;
      return lo;
    }
  }
  return fail(path, 'varint longer than 10 bytes');
}

/** A field's tag: its number must be 1 … 2^29 - 1. */
function tag(end: number): number {
  const t = varint(end, 'tag') >>> 0;
  if (hi !== 0 || t >>> 3 === 0) fail('tag', `field number ${hi !== 0 ? '≥ 2^29' : 0}`);
  return t;
}

/** A length prefix; what it counts must end by `end`. Returns where it ends. */
function delimited(end: number, path: string): number {
  const len = varint(end, path) >>> 0;
  if (hi !== 0 || len > end - pos) fail(path, `length ${hi ? '≥ 2^32' : len} runs past the end of its message`);
  return pos + len;
}

const utf8 = (start: number, end: number): string => (buf as unknown as { utf8Slice(start: number, end: number): string }).utf8Slice(start, end);

function string(end: number, path: string): string {
  const stop = delimited(end, path);
  const s = utf8(pos, stop);
  pos = stop;
  return s;
}

/** Values this long or shorter are compared with the field's last value before being decoded. */
const REMEMBERED_BYTES = 128;

/** A string field's value: its last value again when the bytes are the same. */
function fieldString(end: number, f: Field): string {
  const stop = delimited(end, f.path);
  const start = pos;
  const length = stop - start;
  pos = stop;
  if (f.lastRead === reads && f.lastLength === length && sameBytes(f.lastStart, start, length)) return f.last;
  const s = utf8(start, stop);
  if (length <= REMEMBERED_BYTES) {
    f.lastRead = reads;
    f.lastStart = start;
    f.lastLength = length;
    f.last = s;
  }
  return s;
}

function sameBytes(a: number, b: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (buf[a + i] !== buf[b + i]) return false;
  return true;
}

function skip(wireType: number, end: number, path: string): void {
  if (wireType === 0) varint(end, path);
  else if (wireType === 2) pos = delimited(end, path);
  else if (wireType === 1 || wireType === 5) {
    const n = wireType === 1 ? 8 : 4;
    if (n > end - pos) fail(path, 'fixed-size value runs past the end of its message');
    pos += n;
  } else fail(path, `wire type ${wireType} (${wireType === 3 || wireType === 4 ? 'groups are not read' : 'invalid'})`);
}

function readMessage(table: Table, end: number): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  while (pos < end) {
    const t = tag(end);
    const f = table[t >>> 3];
    if (f === undefined) skip(t & 7, end, `field ${t >>> 3}`);
    else if ((t & 7) !== f.wireType) fail(f.path, `wire type ${t & 7}, expected ${f.wireType}`);
    else readField(o, f, end);
  }
  return o;
}

const emptyList = (): unknown[] => [];
const emptyMap = (): Record<string, string> => ({});

function readField(o: Record<string, unknown>, f: Field, end: number): void {
  switch (f.kind) {
    case STRING: return f.set(o, fieldString(end, f));
    case UINT32: return f.set(o, varint(end, f.path) >>> 0);
    case INT32: return f.set(o, varint(end, f.path) | 0);
    case UINT64: return f.set(o, uint64(end, f.path));
    case BOOL: return f.set(o, varint(end, f.path) !== 0);
    case STRINGS: return void (f.collection(o, emptyList) as string[]).push(string(end, f.path));
    case MESSAGE: return f.set(o, readMessage(f.table!, delimited(end, f.path)));
    case MESSAGES: return readElement(f.collection(o, emptyList) as unknown[], f, end);
    case STRING_MAP: return readMapEntry(f.collection(o, emptyMap) as Record<string, string>, delimited(end, f.path), f.path);
  }
}

function uint64(end: number, path: string): number {
  const lo = varint(end, path) >>> 0;
  return (hi >>> 0) * 2 ** 32 + lo;
}

function readElement(list: unknown[], f: Field, end: number): void {
  const stop = delimited(end, f.path);
  const outer = element;
  const outerIndex = elementIndex;
  element = f;
  elementIndex = list.length;
  list.push(readMessage(f.table!, stop));
  element = outer;
  elementIndex = outerIndex;
}

/** A map<string, string> entry; a missing key or value is '' (as protobufjs reads it). */
function readMapEntry(map: Record<string, string>, end: number, path: string): void {
  let key = '';
  let value = '';
  while (pos < end) {
    const t = tag(end);
    if (t === ((1 << 3) | 2)) key = string(end, path);
    else if (t === ((2 << 3) | 2)) value = string(end, path);
    else skip(t & 7, end, path);
  }
  if (key === '__proto__') Object.defineProperty(map, key, { value, enumerable: true, configurable: true, writable: true });
  else map[key] = value;
}

export interface ReadBatch { seq: number; events: Record<string, unknown>[] }

/**
 * A reader for `agentMessage` (vigil.v1.AgentMessage): its batch with the events schema-shaped (not yet
 * validated: run validateEvent on them), or undefined when it carries no batch. Throws on malformed bytes.
 */
export function batchReader(agentMessage: protobuf.Type): (bytes: Uint8Array) => ReadBatch | undefined {
  const batchField = agentMessage.fields.batch.resolve();
  const batchTable = compile(batchField.resolvedType as protobuf.Type, 'batch', { 'Event.timestamp': '@timestamp' });
  const BATCH_TAG = (batchField.id << 3) | 2;
  return (bytes) => {
    buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    pos = 0;
    reads++;
    element = undefined;
    let batch: Record<string, unknown> | undefined;
    try {
      while (pos < buf.length) {
        const t = tag(buf.length);
        if (t === BATCH_TAG) batch = readMessage(batchTable, delimited(buf.length, 'batch'));
        else if (t >>> 3 === batchField.id) fail('batch', `wire type ${t & 7}, expected 2`);
        else skip(t & 7, buf.length, `field ${t >>> 3}`);
      }
    } finally {
      buf = NO_BYTES; // the message's bytes are not kept alive here
    }
    return batch && { seq: (batch.seq as number | undefined) ?? 0, events: (batch.events as Record<string, unknown>[] | undefined) ?? [] };
  };
}
