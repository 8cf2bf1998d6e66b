// Rule management as a library (the API's /api/v1/rules routes are wired onto it): holds rule sources by
// origin (built-in, loaded directories, uploaded), lists rules with status and rejection reasons, enables
// and disables by id, adds/replaces/deletes uploaded rules (all or nothing: a rule text that does not
// compile whole changes nothing), and produces the snapshot the detector runs. Parsed sources are cached by
// text, so a change re-parses only what changed and unchanged rules keep their compiled predicates.
// Ownership: an uploaded rule records the tenant whose principal wrote it, rule files belong to the operator;
// the snapshot hands the owner of every rule that names a response to the detector, which stamps it on the
// alert, and automated response runs only for that tenant (src/response/automation.ts). Pure.

import { createHash } from 'node:crypto';
import type { CorrelationIR, Logsource, RejectedRule, RuleIR } from '../sigma/ir.ts';
import { linkSources, parseSource } from '../sigma/parser.ts';
import type { CompileOptions, CompileResult, ParsedSource, RuleSource } from '../sigma/parser.ts';
import type { RuleOwner } from './alerts.ts';
import type { RuleSnapshot } from './engine.ts';

export type RuleOrigin = 'builtin' | 'directory' | 'uploaded';

export interface RuleInfo {
  id: string;
  title: string;
  kind: 'rule' | 'correlation';
  level: string;
  status?: string;
  author?: string;
  enabled: boolean;
  origin: RuleOrigin;
  source?: string;
  logsource?: Logsource;
  mitre: string[];
  /** The automated response the rule names (its action), if any. */
  response?: string;
  /** Who answers for the rule: the uploading tenant, or the operator (rule files); absent for uploads stored before owners were kept. */
  owner?: RuleOwner;
}

/** How an upload is written: by whom it is owned, and whether its writer may give it an automated response. */
export interface UploadOptions {
  /** The tenant of the principal writing the rule: its responses run only on that tenant's hosts. */
  owner?: string;
  /** False: a text naming a `response` is refused (`forbidden`), e.g. the writer lacks `ir:execute`. Default true. */
  mayRespond?: boolean;
}

export type ChangeResult =
  | { ok: true; ids: string[] }
  | { ok: false; status: 'invalid' | 'not_found' | 'conflict' | 'read_only' | 'forbidden'; rejected: RejectedRule[] };

interface Held { source: RuleSource; origin: RuleOrigin; parsed: ParsedSource; owner?: string }

const UPLOAD_PREFIX = 'upload:';

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Uploaded rule text: JSON form when it starts with `{` or `[`, Sigma YAML otherwise. */
function uploadPath(text: string, key: string): string {
  return `${UPLOAD_PREFIX}${key}${/^\s*[[{]/.test(text) ? '.json' : '.yml'}`;
}

function ruleIds(p: ParsedSource): string[] {
  return [...p.rules.map((r) => r.id), ...p.correlations.map((c) => c.ir.id)];
}

function failure(status: 'invalid' | 'not_found' | 'conflict' | 'read_only' | 'forbidden', reason: string, id?: string): ChangeResult {
  return { ok: false, status, rejected: [{ id, reason }] };
}

export class RuleRegistry {
  private readonly opts: CompileOptions;
  private held: Held[] = [];
  private readonly parseCache = new Map<string, ParsedSource>(); // path + text hash → parsed
  private readonly disabled = new Set<string>();
  private linked: CompileResult | undefined;
  private version = 0;

  constructor(opts: CompileOptions = {}) {
    this.opts = opts;
  }

  /** The compile options every rule of this registry is compiled with. */
  get options(): CompileOptions { return this.opts; }

  /** Incremented on every change; the stage reloads when it differs from what it runs. */
  get revision(): number { return this.version; }

  private parse(source: RuleSource): ParsedSource {
    const key = `${source.path}\u0000${sha(source.text)}`;
    let p = this.parseCache.get(key);
    if (!p) { p = parseSource(source, this.opts); this.parseCache.set(key, p); }
    return p;
  }

  private changed(): void {
    this.linked = undefined;
    this.version++;
    const live = new Set(this.held.map((h) => `${h.source.path}\u0000${sha(h.source.text)}`));
    for (const k of this.parseCache.keys()) if (!live.has(k)) this.parseCache.delete(k);
  }

  private link(held: Held[] = this.held): CompileResult {
    if (held === this.held && this.linked) return this.linked;
    const result = linkSources(held.map((h) => h.parsed));
    if (held === this.held) this.linked = result;
    return result;
  }

  /** Replaces every source of a non-upload origin (a built-in or directory (re)load). */
  setSources(origin: 'builtin' | 'directory', sources: RuleSource[]): void {
    this.held = [...this.held.filter((h) => h.origin !== origin), ...sources.map((source) => ({ source, origin, parsed: this.parse(source) }))];
    this.changed();
  }

  private originOf(id: string): Held | undefined {
    return this.held.find((h) => ruleIds(h.parsed).includes(id));
  }

  /** Who answers for a held source's rules: the operator for rule files, the recorded tenant for uploads. */
  private static ownerOf(h: Held | undefined): RuleOwner | undefined {
    if (!h) return undefined;
    if (h.origin !== 'uploaded') return { kind: 'operator' };
    return h.owner === undefined ? undefined : { kind: 'tenant', tenant_id: h.owner };
  }

  list(): RuleInfo[] {
    const linked = this.link();
    const info = (r: RuleIR | CorrelationIR, kind: RuleInfo['kind']): RuleInfo => {
      const held = this.originOf(r.id);
      const response = 'response' in r ? r.response?.action : undefined;
      const owner = RuleRegistry.ownerOf(held);
      return {
        id: r.id, title: r.name, kind, level: r.severity, status: r.status, author: r.author,
        enabled: r.enabled && !this.disabled.has(r.id), origin: held?.origin ?? 'directory',
        source: r.sigma_source, logsource: 'logsource' in r ? r.logsource : undefined, mitre: r.mitre,
        ...(response ? { response } : {}), ...(owner ? { owner } : {}),
      };
    };
    return [...linked.rules.map((r) => info(r, 'rule')), ...linked.correlations.map((c) => info(c, 'correlation'))];
  }

  get(id: string): { info: RuleInfo; ir: RuleIR | CorrelationIR; text: string } | undefined {
    const linked = this.link();
    const ir = linked.rules.find((r) => r.id === id) ?? linked.correlations.find((c) => c.id === id);
    const info = this.list().find((r) => r.id === id);
    const held = this.originOf(id);
    return ir && info && held ? { info, ir, text: held.source.text } : undefined;
  }

  rejected(): RejectedRule[] { return this.link().rejected; }

  warnings(): string[] { return this.link().warnings; }

  setEnabled(id: string, enabled: boolean): boolean {
    if (!this.get(id)) return false;
    if (enabled) this.disabled.delete(id); else this.disabled.add(id);
    this.changed();
    return true;
  }

  /** Adds an uploaded rule text (one or more documents), owned by `o.owner`. Nothing changes unless all of it compiles. */
  add(text: string, o: UploadOptions = {}): ChangeResult {
    return this.apply(text, `${sha(text).slice(0, 16)}`, o, undefined);
  }

  /**
   * Replaces the uploaded rule `id` (and the documents uploaded with it) by `text`, which must keep that id; the
   * rules then belong to `o.owner` (the tenant of the principal who wrote this version).
   */
  replace(id: string, text: string, o: UploadOptions = {}): ChangeResult {
    const held = this.originOf(id);
    if (!held) return failure('not_found', `no rule ${id}`, id);
    if (held.origin !== 'uploaded') return failure('read_only', `rule ${id} comes from ${held.source.path} (${held.origin}); only uploaded rules can be replaced`, id);
    return this.apply(text, held.source.path.slice(UPLOAD_PREFIX.length).replace(/\.(json|yml)$/, ''), o, held, id);
  }

  delete(id: string): ChangeResult {
    const held = this.originOf(id);
    if (!held) return failure('not_found', `no rule ${id}`, id);
    if (held.origin !== 'uploaded') return failure('read_only', `rule ${id} comes from ${held.source.path} (${held.origin}); only uploaded rules can be deleted`, id);
    const candidate = this.held.filter((h) => h !== held);
    const broken = this.link(candidate).rejected.filter((r) => /correlation references/.test(r.reason));
    if (broken.length > this.link().rejected.filter((r) => /correlation references/.test(r.reason)).length) {
      return { ok: false, status: 'conflict', rejected: [{ id, reason: `rule ${id} is referenced by a correlation` }] };
    }
    this.held = candidate;
    this.disabled.delete(id);
    this.changed();
    return { ok: true, ids: ruleIds(held.parsed) };
  }

  private apply(text: string, key: string, o: UploadOptions, replacing: Held | undefined, keepId?: string): ChangeResult {
    const source = { path: uploadPath(text, key), text };
    const parsed = parseSource(source, this.opts);
    const ids = ruleIds(parsed);
    if (parsed.rejected.length > 0) return { ok: false, status: 'invalid', rejected: parsed.rejected };
    if (ids.length === 0) return failure('invalid', 'the text holds no rule');
    const responding = parsed.rules.filter((r) => r.response);
    if (o.mayRespond === false && responding.length > 0) {
      return failure('forbidden', `rule ${responding[0].id} names an automated response (${responding[0].response!.action}); writing it needs the ir:execute permission`, responding[0].id);
    }
    if (keepId !== undefined && !ids.includes(keepId)) return failure('invalid', `the replacement must keep the rule id ${keepId}`, keepId);
    const others = this.held.filter((h) => h !== replacing);
    const taken = ids.filter((id) => others.some((h) => ruleIds(h.parsed).includes(id)));
    if (taken.length > 0) return failure('conflict', `rule id(s) already loaded: ${taken.join(', ')}`, taken[0]);
    const candidate: Held[] = [...others, { source, origin: 'uploaded', parsed, ...(o.owner !== undefined ? { owner: o.owner } : {}) }];
    const before = new Set(this.link().rejected.map((r) => `${r.id}\u0000${r.reason}`));
    const introduced = this.link(candidate).rejected.filter((r) => !before.has(`${r.id}\u0000${r.reason}`));
    if (introduced.length > 0) return { ok: false, status: 'invalid', rejected: introduced };
    this.held = candidate;
    this.parseCache.set(`${source.path}\u0000${sha(text)}`, parsed);
    this.changed();
    return { ok: true, ids };
  }

  /** The enabled rules and correlations, ready for the detector, with the owner of each rule that names a response. */
  snapshot(): RuleSnapshot {
    const linked = this.link();
    const on = (r: RuleIR | CorrelationIR): boolean => r.enabled && !this.disabled.has(r.id);
    const rules = linked.rules.filter(on);
    const owners = new Map<string, RuleOwner>();
    for (const r of rules) {
      const owner = r.response ? RuleRegistry.ownerOf(this.originOf(r.id)) : undefined;
      if (owner) owners.set(r.id, owner);
    }
    return { rules, correlations: linked.correlations.filter(on), owners };
  }
}
