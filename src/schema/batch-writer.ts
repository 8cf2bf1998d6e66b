// The agent's hot path to protobuf: schema-shaped events written one by one, as they are made, straight
// into a reusable byte buffer as the `events` of an EventBatch (the counterpart of batch-reader.ts). No
// protobufjs writer, whose every field is an operation object (≈ 60 objects an event of garbage), and no
// wire-form copy of the event. Its tables are made from vigil.proto's reflection. The bytes are
// protobufjs's encode of the same values: fields in field-number order, a field written iff its value is
// neither undefined nor null (defaults included), repeated fields iff non-empty, map entries in key order.
// The caller guarantees the value types (VigilEvent's), which protobufjs's verify would check. A frozen
// message value (the agent's `agent` and `host` fields, shared by all its events; a parent's fields) is
// encoded once and its bytes copied after: it must be frozen all the way down, as those are. No I/O; an
// event is written synchronously, so the buffer being written and the position are module state. Each
// message type gets a writer function generated from its table (as protobufjs generates its encoders): its
// property reads name their field (`m["pid"]`), so each read site sees one message type's objects. A single
// loop over all tables (`m[f.name]`) made every read megamorphic: ≈ 5 % of the agent's CPU (perf).

import protobuf from 'protobufjs';

const STRING = 0, UINT32 = 1, INT32 = 2, UINT64 = 3, BOOL = 4, STRINGS = 5, MESSAGE = 6, STRING_MAP = 7, MESSAGES = 8;
const SCALARS: Record<string, number> = { string: STRING, uint32: UINT32, int32: INT32, uint64: UINT64, bool: BOOL };

/**
 * A field to write: its tag (a varint: one byte up to field 15, two up to 2047), its name in the schema's objects and,
 * for a message, the message's table and the bytes of the frozen values met in this field.
 */
interface Field { name: string; tag: number; kind: number; table?: Table; frozen?: WeakMap<object, Buffer> }
/** A message's fields in field-number order, and its generated writer of them. */
interface Table { fields: Field[]; write: (m: Record<string, unknown>) => void }

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
  throw new Error(`batch writer: ${path} (${f.repeated ? 'repeated ' : ''}${f.type}) is not a field type it writes`);
}

/** The writing table of `t`; `renames` maps `Type.field` to the schema's name of the field. */
function compile(t: protobuf.Type, renames: Record<string, string>): Table {
  const fields = [...t.fieldsArray].sort((a, b) => a.id - b.id).map((f) => {
    f.resolve();
    const kind = kindOf(f, `${t.name}.${f.name}`);
    const tag = (f.id << 3) | (kind === UINT32 || kind === INT32 || kind === UINT64 || kind === BOOL ? 0 : 2);
    if (tag > 0x3fff) throw new Error(`batch writer: ${t.name}.${f.name}: field numbers above 2047 are not written`);
    const field: Field = { name: renames[`${t.name}.${f.name}`] ?? f.name, tag, kind };
    if (kind === MESSAGE || kind === MESSAGES) {
      field.table = compile(f.resolvedType as protobuf.Type, renames);
      field.frozen = new WeakMap();
    }
    return field;
  });
  return { fields, write: generateWriter(t.name, fields) };
}

/**
 * The writer of one message type: for each field in order, read it by name and, unless undefined or null,
 * hand it to its kind's writer (`w`). Generated from the schema's own field names, each quoted as a string
 * literal by JSON.stringify (e.g. `m["@timestamp"]`), so no name can be read as code.
 */
function generateWriter(type: string, fields: Field[]): Table['write'] {
  const body = fields.map((f, i) => `v = m[${JSON.stringify(f.name)}]; if (v !== undefined && v !== null) w[${f.kind}](F[${i}], v);`);
  const make = new Function('w', 'F', `return function write_${type.replace(/\W/g, '_')}(m) { let v;\n${body.join('\n')}\n};`);
  return make(KIND_WRITERS, fields) as Table['write'];
}

// ---- the output buffer: a writer's, while it adds an event (each writer's keeps the size of its largest batch) ----

let out = Buffer.alloc(0);
let pos = 0;

function ensure(bytes: number): void {
  if (pos + bytes <= out.length) return;
  const bigger = Buffer.allocUnsafeSlow(Math.max(2 * out.length, pos + bytes));
  out.copy(bigger, 0, 0, pos);
  out = bigger;
}

const varintSize = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x20_0000 ? 3 : n < 0x1000_0000 ? 4 : 5);

/** An unsigned 32-bit varint (room ensured by the caller). */
function varint32(n: number): void {
  while (n > 0x7f) {
    out[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[pos++] = n;
}

/** A 64-bit varint from its low and high unsigned 32-bit halves (room ensured by the caller). */
function varint64(lo: number, hi: number): void {
  while (hi !== 0 || lo > 0x7f) {
    out[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  out[pos++] = lo;
}

/**
 * A number as protobufjs writes it as a 64-bit varint (LongBits.fromNumber: negatives two's complement;
 * room ensured by the caller).
 */
function numberVarint64(value: number): void {
  const magnitude = Math.abs(value);
  let lo = magnitude >>> 0;
  let hi = ((magnitude - lo) / 4294967296) >>> 0;
  if (value < 0) {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
    if (++lo > 0xffff_ffff) {
      lo = 0;
      hi = (hi + 1) >>> 0;
    }
  }
  varint64(lo, hi);
}

/** A length-delimited string: ASCII byte by byte, anything else through Buffer's UTF-8 encoder. */
function string(s: string): void {
  const n = s.length;
  ensure(5 + 3 * n);
  const start = pos;
  varint32(n);
  const bytes = out;
  const at = pos;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return void utf8String(s, start);
    bytes[at + i] = c;
  }
  pos = at + n;
}

function utf8String(s: string, start: number): void {
  pos = start;
  varint32(Buffer.byteLength(s));
  pos += out.write(s, pos, 'utf8');
}

/** Starts a length-delimited value whose length is not known yet; returns where its contents begin. */
function openDelimited(): number {
  ensure(1);
  return ++pos; // one byte reserved for the length: moved along if it needs more
}

function closeDelimited(contentsAt: number): void {
  const length = pos - contentsAt;
  const size = varintSize(length);
  if (size > 1) {
    ensure(size - 1);
    out.copyWithin(contentsAt + size - 1, contentsAt, pos);
    pos += size - 1;
  }
  const end = pos;
  pos = contentsAt - 1;
  varint32(length);
  pos = end;
}

/** A message field's value; a frozen value cannot change, so its bytes are made once and then copied. */
function message(f: Field, m: Record<string, unknown>): void {
  if (Object.isExtensible(m) || !Object.isFrozen(m)) return void f.table!.write(m);
  const bytes = f.frozen!.get(m);
  if (!bytes) {
    const start = pos;
    f.table!.write(m);
    f.frozen!.set(m, Buffer.from(out.subarray(start, pos)));
    return;
  }
  ensure(bytes.length);
  out.set(bytes, pos);
  pos += bytes.length;
}

/** A tag of one or two bytes (room ensured by the caller). */
function tagBytes(t: number): void {
  if (t < 0x80) out[pos++] = t;
  else {
    out[pos++] = (t & 0x7f) | 0x80;
    out[pos++] = t >>> 7;
  }
}

/** A field's tag, then room for a scalar's varint (strings and messages ensure their own room). */
function tag(f: Field): void {
  ensure(12);
  tagBytes(f.tag);
}

/** The writer of each field kind (indexed by kind), given the field and its value (neither undefined nor null). */
const KIND_WRITERS: ((f: Field, v: unknown) => void)[] = [];
KIND_WRITERS[STRING] = (f, v) => { tag(f); string(v as string); };
KIND_WRITERS[UINT32] = (f, v) => { tag(f); varint32((v as number) >>> 0); };
KIND_WRITERS[INT32] = (f, v) => { tag(f); if ((v as number) < 0) numberVarint64(v as number); else varint32((v as number) >>> 0); };
KIND_WRITERS[UINT64] = (f, v) => { tag(f); numberVarint64(v as number); };
KIND_WRITERS[BOOL] = (f, v) => { tag(f); out[pos++] = v ? 1 : 0; };
KIND_WRITERS[STRINGS] = (f, v) => strings(f.tag, v as string[]);
KIND_WRITERS[MESSAGE] = (f, v) => {
  tag(f);
  const at = openDelimited();
  message(f, v as Record<string, unknown>);
  closeDelimited(at);
};
KIND_WRITERS[MESSAGES] = (f, v) => {
  for (const m of v as Record<string, unknown>[]) KIND_WRITERS[MESSAGE](f, m);
};
KIND_WRITERS[STRING_MAP] = (f, v) => stringMap(f.tag, v as Record<string, string>);

function strings(tag: number, values: readonly string[]): void {
  for (let i = 0; i < values.length; i++) {
    ensure(2);
    tagBytes(tag);
    string(values[i]);
  }
}

const MAP_KEY_TAG = (1 << 3) | 2;
const MAP_VALUE_TAG = (2 << 3) | 2;

function stringMap(tag: number, map: Record<string, string>): void {
  for (const k of Object.keys(map)) {
    ensure(2);
    tagBytes(tag);
    const at = openDelimited();
    out[pos++] = MAP_KEY_TAG;
    string(k);
    ensure(1);
    out[pos++] = MAP_VALUE_TAG;
    string(map[k]);
    closeDelimited(at);
  }
}

/** Writes the events of one batch as they come, so that each event object can be garbage at once. */
export interface EventsWriter {
  /** Encodes one more event into the batch. */
  add(event: object): void;
  /** Events added since the last take(). */
  readonly count: number;
  /** The batch's bytes (the caller's copy); the writer starts an empty batch. */
  take(): Buffer;
}

/**
 * Makes writers of `events` (the repeated Event field of `eventBatch`, vigil.v1.EventBatch) from events named
 * as the schema names them (`timestampField`: the name of Event.timestamp).
 */
export function eventsWriters(eventBatch: protobuf.Type, timestampField: string): () => EventsWriter {
  const eventsField = eventBatch.fields.events.resolve();
  const eventsTag = (eventsField.id << 3) | 2;
  const table = compile(eventsField.resolvedType as protobuf.Type, { 'Event.timestamp': timestampField });
  return () => new Writer(table, eventsTag);
}

/** A writer's bytes become the module's output buffer while it adds an event (the write functions use that). */
class Writer implements EventsWriter {
  readonly #table: Table;
  readonly #tag: number;
  #bytes = Buffer.allocUnsafeSlow(64 * 1024);
  #length = 0;
  count = 0;

  constructor(table: Table, tag: number) {
    this.#table = table;
    this.#tag = tag;
  }

  add(event: object): void {
    out = this.#bytes;
    pos = this.#length;
    ensure(1);
    out[pos++] = this.#tag;
    const at = openDelimited();
    this.#table.write(event as Record<string, unknown>);
    closeDelimited(at);
    this.#bytes = out; // grown, perhaps
    this.#length = pos;
    this.count++;
  }

  take(): Buffer {
    const bytes = Buffer.from(this.#bytes.subarray(0, this.#length));
    this.#length = 0;
    this.count = 0;
    return bytes;
  }
}
