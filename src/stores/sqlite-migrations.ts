// Schema migrations for the SQLite stores: numbered lists of statements, each list applied once in its own
// transaction and recorded in a per-store table, so every store upgrades itself at open.

import type { DatabaseSync } from 'node:sqlite';

export function migrateSqlite(db: DatabaseSync, table: string, migrations: string[][]): void {
  if (!/^[a-z_]+$/.test(table)) throw new Error(`invalid migrations table name '${table}'`);
  db.exec(`CREATE TABLE IF NOT EXISTS ${table} (version INTEGER PRIMARY KEY)`);
  const done = new Set(db.prepare(`SELECT version FROM ${table}`).all().map((r) => Number(r.version)));
  migrations.forEach((statements, i) => {
    if (done.has(i + 1)) return;
    db.exec('BEGIN');
    try {
      for (const sql of statements) db.exec(sql);
      db.prepare(`INSERT INTO ${table} (version) VALUES (?)`).run(i + 1);
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
  });
}
