// The metadata store interface: tenants, hosts/agents, enrolment tokens and policies (API keys are identity's). Implemented on
// SQLite (embedded) and PostgreSQL (scale-out); every implementation passes the same conformance suite.
// Every read is scoped by tenant: an object of another tenant is "not found". Names sort bytewise (C collation).

import type { KeysetPage } from '../../util/keyset.ts';

export interface EnrollmentToken {
  id: string;
  tenantId: string;
  tokenHash: string; // SHA-256 hex of the secret; the secret itself is never stored
  createdAt: number;
  expiresAt: number; // ms since the epoch
  maxUses: number | null;
  uses: number;
  revoked: boolean;
}

export interface AgentHealth {
  version?: string;
  sensorMode?: string;
  sensorDetail?: string;
  queueDepth?: number;
  spoolBytes?: number;
  sensorDrops?: number;
  agentDrops?: number;
  sensorRestarts?: number;
  rssBytes?: number;
  cpuPct?: number;
  eventsSent?: number;
  /** Network isolation (response action) in force on the host. */
  isolated?: boolean;
}

export interface HostRecord {
  id: string; // the agent id is the host id: one agent per host
  tenantId: string;
  hostname: string;
  os: string;
  kernel: string;
  agentVersion: string;
  certSerial: string;
  certNotAfter: number;
  revoked: boolean;
  enrolledAt: number;
  lastSeen: number | null;
  health: AgentHealth;
}

export interface TenantRecord {
  id: string;
  name: string;
  createdAt: number;
}

/** One version of a tenant's named policy document (JSON text); versions count up from 1. */
export interface PolicyRecord {
  tenantId: string;
  name: string;
  version: number;
  document: string;
  updatedBy: string;
  updatedAt: number;
}

/** The policy version an agent last acknowledged applying. */
export interface PolicyAck {
  hostId: string;
  version: number;
  ackedAt: number;
}

export interface MetadataStore {
  migrate(): Promise<void>;
  close(): Promise<void>;
  ensureTenant(id: string, name: string): Promise<void>;
  /** False when a tenant with this id exists. */
  createTenant(id: string, name: string, at: number): Promise<boolean>;
  /** Tenants by id; a page of them after `page.after` (an id) when paged. */
  listTenants(page?: KeysetPage<string>): Promise<TenantRecord[]>;
  createEnrollmentToken(t: EnrollmentToken): Promise<void>;
  /** Atomically counts one use of a valid token; returns the token, or a reason it cannot be used. */
  consumeEnrollmentToken(tokenHash: string, now: number): Promise<EnrollmentToken | { refused: string }>;
  listEnrollmentTokens(tenantId: string): Promise<EnrollmentToken[]>;
  /** False when the tenant has no such token. */
  revokeEnrollmentToken(tenantId: string, id: string): Promise<boolean>;
  upsertHost(h: Omit<HostRecord, 'lastSeen' | 'health' | 'revoked'>): Promise<void>;
  getHost(tenantId: string, id: string): Promise<HostRecord | undefined>;
  /** Agent lookup by id alone: for certificate checks, where the tenant comes from the certificate. */
  getAgent(id: string): Promise<HostRecord | undefined>;
  listHosts(tenantId: string): Promise<HostRecord[]>;
  recordHeartbeat(id: string, at: number, health: AgentHealth): Promise<void>;
  /** Marks the agent's certificate revoked (its next connection is refused); false when the tenant has no such agent. */
  revokeAgent(tenantId: string, id: string): Promise<boolean>;
  /** Stores `document` as the next version of the tenant's policy `name` (1 when new). */
  putPolicy(tenantId: string, name: string, document: string, updatedBy: string, at: number): Promise<PolicyRecord>;
  /** The latest version (or the given one) of a policy. */
  getPolicy(tenantId: string, name: string, version?: number): Promise<PolicyRecord | undefined>;
  /** The latest version of each policy of the tenant, by name; a page of them after `page.after` (a name) when paged. */
  listPolicies(tenantId: string, page?: KeysetPage<string>): Promise<PolicyRecord[]>;
  ackPolicy(tenantId: string, hostId: string, name: string, version: number, at: number): Promise<void>;
  policyAcks(tenantId: string, name: string): Promise<PolicyAck[]>;
}
