// The persisted rule-management state: rule texts uploaded through the API (in upload order) and rules
// switched on or off by hand. Reads are synchronous (the rule service loads and rebuilds from them at once):
// an implementation on a remote database serves them from the snapshot it last loaded or wrote. Writes may
// be asynchronous; the rule service awaits them before answering.

export interface RuleStateStore {
  /** Uploaded rule texts in upload order (a replaced text keeps its place). */
  uploads(): { key: string; text: string }[];
  saveUpload(key: string, text: string): void | Promise<void>;
  deleteUpload(key: string): void | Promise<void>;
  switches(): { ruleId: string; enabled: boolean }[];
  saveSwitch(ruleId: string, enabled: boolean): void | Promise<void>;
  close(): void | Promise<void>;
}
