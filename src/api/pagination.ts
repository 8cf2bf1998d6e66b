// Cursor paging of the management lists (users, API keys, tenants, policies), in the style of /events and
// /alerts: `?limit=` (1–1000, default 100) and `?cursor=` (the opaque `next` of the previous page) in, the
// page's items and `next` (null on the last page) out. A cursor is the base64url JSON of the last item's sort
// key; a cursor that does not decode to the list's key shape is a 400.

import type { KeysetPage } from '../stores/keyset.ts';
import { HttpError } from './http.ts';

export const MAX_PAGE_LIMIT = 1000;
const DEFAULT_PAGE_LIMIT = 100;

/** Querystring schema properties of a paged list. */
export const pageQueryProperties = {
  limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT },
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

function decodeCursor<K>(cursor: string, is: (v: unknown) => v is K): K {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (is(v)) return v;
  } catch { /* reported below */ }
  throw new HttpError(400, 'invalid cursor', 'invalid_cursor');
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
