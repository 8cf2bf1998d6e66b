// Cursor paging of the management lists (users, API keys, tenants, policies), in the style of /events and
// /alerts: `?limit=` (1–1000, default 100) and `?cursor=` (the opaque `next` of the previous page) in, the
// page's items and `next` (null on the last page) out. A cursor is the base64url JSON of the last item's sort
// key; a cursor that does not decode to the list's key shape is a 400, and so is one whose values no store can
// take (a lone surrogate, a number that is not a safe integer, a time outside 1900–2299).

import type { KeysetPage } from '../util/keyset.ts';
import { HttpError, intSchema, isApiTime } from './http.ts';

export const MAX_PAGE_LIMIT = 1000;
const DEFAULT_PAGE_LIMIT = 100;

/** Querystring schema properties of a paged list. */
export const pageQueryProperties = {
  limit: intSchema(1, MAX_PAGE_LIMIT),
  cursor: { type: 'string', minLength: 1, maxLength: 512 },
} as const;

export interface PageQuery { limit?: number; cursor?: string }

/** How a list sorts: the key of an item, and a check that a decoded cursor has the key's shape. */
export interface SortKey<T, K> {
  of(item: T): K;
  is(v: unknown): v is K;
}

/** Lists sorted by one unique text column (e-mail, id, name). */
export const textKey = <T>(of: (item: T) => string): SortKey<T, string> => ({ of, is: (v): v is string => typeof v === 'string' });

/** Strings without lone surrogates, safe integers, and arrays of them: the only values a sort key holds. */
function storable(v: unknown): boolean {
  if (typeof v === 'string') return v.isWellFormed();
  if (typeof v === 'number') return Number.isSafeInteger(v);
  return Array.isArray(v) && v.length <= 4 && v.every((x) => typeof x !== 'object' && storable(x));
}

const invalidCursor = () => new HttpError(400, 'invalid cursor', 'invalid_cursor');

function decodeCursor<K>(cursor: string, is: (v: unknown) => v is K): K {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (storable(v) && is(v)) return v;
  throw invalidCursor();
}

/**
 * Checks a cursor of the events and alerts lists (their stores decode it: base64url JSON `[time, id]`) before it
 * reaches a store: a time the stores cannot take, or an id with a lone surrogate, is a 400 here rather than a
 * failed query there.
 */
export function checkTimeCursor(cursor: string | undefined): void {
  if (cursor === undefined) return;
  decodeCursor(cursor, (v): v is [string, string] => Array.isArray(v) && v.length === 2 && isApiTime(v[0]) && typeof v[1] === 'string');
}

const encodeCursor = (key: unknown): string => Buffer.from(JSON.stringify(key)).toString('base64url');

/** Reads one page through `fetch` (asked for one row more than the limit, to know whether a next page exists). */
export async function keysetPage<T, K>(q: PageQuery, key: SortKey<T, K>, fetch: (page: KeysetPage<K>) => Promise<T[]>): Promise<{ items: T[]; next: string | null }> {
  const limit = q.limit ?? DEFAULT_PAGE_LIMIT;
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, key.is);
  const rows = await fetch({ after, limit: limit + 1 });
  const items = rows.slice(0, limit);
  return { items, next: rows.length > limit ? encodeCursor(key.of(items[items.length - 1])) : null };
}
