// The persisted rule-management state, the port the rule service uses (implemented in src/stores/rules/): rule
// texts uploaded through the API (in upload order) and rules switched on or off by hand, each with the tenant and
// principal whose write it was (an uploaded rule's tenant owns its automated response). Reads are synchronous (the
// rule service loads and rebuilds from them at once): an implementation on a remote database serves them from the
// snapshot it last loaded or wrote. Writes may be asynchronous; the rule service awaits them before answering.

/** Who wrote a rule or a switch: the principal's tenant and its ledger name (`user:<id>`, `apikey:<id>`). */
export interface RuleWrite { tenantId: string; actor: string }

/** An uploaded rule text; `tenantId` and `updatedBy` are absent on uploads stored before writers were recorded. */
export interface StoredUpload { key: string; text: string; tenantId?: string; updatedBy?: string }

export interface RuleStateStore {
  /** Uploaded rule texts in upload order (a replaced text keeps its place). */
  uploads(): StoredUpload[];
  saveUpload(key: string, text: string, by?: RuleWrite): void | Promise<void>;
  deleteUpload(key: string): void | Promise<void>;
  switches(): { ruleId: string; enabled: boolean }[];
  saveSwitch(ruleId: string, enabled: boolean, by?: RuleWrite): void | Promise<void>;
  close(): void | Promise<void>;
}

/** The optional writer fields of a stored upload, left out when not recorded. */
export function writerFields(tenantId: string | null, updatedBy: string | null): { tenantId?: string; updatedBy?: string } {
  return { ...(tenantId !== null ? { tenantId } : {}), ...(updatedBy !== null ? { updatedBy } : {}) };
}
