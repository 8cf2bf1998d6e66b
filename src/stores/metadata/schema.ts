// The metadata schema as ordered migrations, written in the SQL subset SQLite and PostgreSQL share.
// A migration is never edited once released; add a new one.

export const MIGRATIONS: string[][] = [
  [
    `CREATE TABLE tenants (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at BIGINT NOT NULL)`,
    `CREATE TABLE enrollment_tokens (
      id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), token_hash TEXT NOT NULL UNIQUE,
      created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, max_uses INTEGER, uses INTEGER NOT NULL DEFAULT 0,
      revoked INTEGER NOT NULL DEFAULT 0)`,
    `CREATE TABLE hosts (
      id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), hostname TEXT NOT NULL,
      os TEXT NOT NULL, kernel TEXT NOT NULL, agent_version TEXT NOT NULL, cert_serial TEXT NOT NULL,
      cert_not_after BIGINT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0, enrolled_at BIGINT NOT NULL,
      last_seen BIGINT, health TEXT NOT NULL DEFAULT '{}')`,
    `CREATE INDEX hosts_tenant ON hosts (tenant_id, hostname)`,
    `CREATE TABLE api_keys (
      id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL, role TEXT NOT NULL,
      key_hash TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0)`,
  ],
  [
    `CREATE TABLE policies (
      tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL, version INTEGER NOT NULL, document TEXT NOT NULL,
      updated_by TEXT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (tenant_id, name, version))`,
    `CREATE TABLE policy_acks (
      tenant_id TEXT NOT NULL REFERENCES tenants(id), host_id TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,
      acked_at BIGINT NOT NULL, PRIMARY KEY (tenant_id, host_id, name))`,
  ],
  // API keys are the identity store's (identity_api_keys); this table was never read.
  ['DROP TABLE IF EXISTS api_keys'],
];
