// Keyset paging of store lists: a page is at most `limit` rows sorting after `after`, the sort key of the
// previous page's last row (no OFFSET, so pages stay correct and cheap while rows are added). Types only; the
// API turns sort keys into opaque cursors (src/api/pagination.ts).

export interface KeysetPage<K> {
  /** The sort key of the last row already seen; the page starts after it. */
  after?: K;
  limit: number;
}
