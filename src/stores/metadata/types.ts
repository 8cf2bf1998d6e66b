// The metadata store interface: tenants, hosts/agents, enrolment tokens and API keys. Implemented on
// SQLite (embedded) and PostgreSQL (scale-out); every implementation passes the same conformance suite.
// Every read is scoped by tenant: an object of another tenant is "not found".

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

export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  name: string;
  role: string;
  keyHash: string;
  createdAt: number;
  revoked: boolean;
}

export interface MetadataStore {
  migrate(): Promise<void>;
  close(): Promise<void>;
  ensureTenant(id: string, name: string): Promise<void>;
  createEnrollmentToken(t: EnrollmentToken): Promise<void>;
  /** Atomically counts one use of a valid token; returns the token, or a reason it cannot be used. */
  consumeEnrollmentToken(tokenHash: string, now: number): Promise<EnrollmentToken | { refused: string }>;
  upsertHost(h: Omit<HostRecord, 'lastSeen' | 'health' | 'revoked'>): Promise<void>;
  getHost(tenantId: string, id: string): Promise<HostRecord | undefined>;
  /** Agent lookup by id alone: for certificate checks, where the tenant comes from the certificate. */
  getAgent(id: string): Promise<HostRecord | undefined>;
  listHosts(tenantId: string): Promise<HostRecord[]>;
  recordHeartbeat(id: string, at: number, health: AgentHealth): Promise<void>;
  createApiKey(k: ApiKeyRecord): Promise<void>;
  findApiKey(keyHash: string): Promise<ApiKeyRecord | undefined>;
}
