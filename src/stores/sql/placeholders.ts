// Placeholder translation, once per statement text: `?` → `$1, $2, …` for PostgreSQL, `$n` → `?n` for SQLite.
// Quoted text ('…' literals, "…" identifiers) and comments are left as they are.

const MAX_CACHED = 2000;

function translate(sql: string, replace: (match: string) => string, pattern: RegExp): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    if (c === "'" || c === '"') {
      const end = sql.indexOf(c, i + 1);
      const stop = end < 0 ? sql.length : end + 1;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end < 0 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop;
    } else {
      pattern.lastIndex = i;
      const m = pattern.exec(sql);
      if (m && m.index === i) {
        out += replace(m[0]);
        i += m[0].length;
      } else {
        out += c;
        i += 1;
      }
    }
  }
  return out;
}

function cached(f: (sql: string) => string): (sql: string) => string {
  const cache = new Map<string, string>();
  return (sql) => {
    let r = cache.get(sql);
    if (r === undefined) {
      r = f(sql);
      if (cache.size >= MAX_CACHED) cache.clear();
      cache.set(sql, r);
    }
    return r;
  };
}

/** For PostgreSQL: `?` → `$1, $2, …`; SQL already numbered (`$1`) is kept. */
export const numberedPlaceholders = cached((sql) => {
  if (!sql.includes('?')) return sql;
  let n = 0;
  return translate(sql, () => `$${++n}`, /\?/y);
});

/** For SQLite: `$1` → `?1` (SQLite's numbered parameter); `?` is kept. */
export const sqlitePlaceholders = cached((sql) => (sql.includes('$') ? translate(sql, (m) => `?${m.slice(1)}`, /\$\d+/y) : sql));
