// RFC 8785 JSON Canonicalization Scheme (JCS): the byte-exact form in which ledger entries are hashed.
// Object keys sorted by UTF-16 code units, no whitespace, ECMAScript number and string serialisation.
// Values JSON cannot represent exactly (non-finite numbers, undefined, bigint, functions, lone surrogates)
// are rejected with an error naming their path. Pure.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export class CanonicalJsonError extends Error {
  override name = 'CanonicalJsonError';
}

const LONE_SURROGATE = /\p{Surrogate}/u;

function serialiseString(s: string, path: string): string {
  if (LONE_SURROGATE.test(s)) throw new CanonicalJsonError(`${path}: string contains a lone surrogate`);
  return JSON.stringify(s);
}

function serialise(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`${path}: ${value} is not a JSON number`);
      return JSON.stringify(value);
    case 'string':
      return serialiseString(value, path);
    case 'object':
      return Array.isArray(value) ? serialiseArray(value, path) : serialiseObject(value as Record<string, unknown>, path);
    default:
      throw new CanonicalJsonError(`${path}: ${typeof value} is not a JSON value`);
  }
}

function serialiseArray(items: unknown[], path: string): string {
  return `[${items.map((v, i) => serialise(v, `${path}[${i}]`)).join(',')}]`;
}

function serialiseObject(obj: Record<string, unknown>, path: string): string {
  const proto = Object.getPrototypeOf(obj);
  if (proto !== Object.prototype && proto !== null) {
    throw new CanonicalJsonError(`${path}: ${proto?.constructor?.name ?? 'object'} is not a plain JSON object`);
  }
  // Default sort compares UTF-16 code units, which is what RFC 8785 §3.2.3 prescribes.
  const keys = Object.keys(obj).sort();
  const members = keys.map((k) => `${serialiseString(k, path)}:${serialise(obj[k], `${path}.${k}`)}`);
  return `{${members.join(',')}}`;
}

/** The RFC 8785 canonical JSON text of `value`. */
export function canonicalize(value: unknown): string {
  return serialise(value, '$');
}
