// Threat hunting SQL: deciding whether a caller's query may run, on the engine's own parse tree (the text of
// ClickHouse's `EXPLAIN AST`), and wrapping it so it can only see the caller's tenant and stays within row,
// time, read and memory limits that the engine itself enforces. Accepted: one SELECT (UNION allowed) whose
// every table is an allowed table, a subquery or one of its own CTEs, and whose every function is allowed.
// Refused, each with a precise reason: several statements, anything that is not a SELECT, other or qualified
// tables (system.*, another database), CTEs named like a table or database, table functions (file(), url(),
// remote(), …), functions outside the allow-list (server introspection such as version() or hostName(),
// dictionaries, files, …), tables used as values (`x IN table`), SETTINGS, INTO OUTFILE and FORMAT. The tenant
// is enforced by the engine (`additional_table_filters` on every allowed table, which applies to every read of
// it, in subqueries and joins too), not by the query text. Engine errors reach the caller without the engine's
// version or internal details. HuntGate bounds how many hunts run at once, per tenant and in all. Pure.

export const HUNT_TABLES = ['telemetry_events', 'process_nodes', 'events_hourly', 'alerts'] as const;

export interface HuntLimits {
  /** Most rows returned (one more is read to tell whether the result was truncated). */
  maxRows: number;
  /** The engine stops the query after this long (max_execution_time, timeout_overflow_mode = 'throw'). */
  maxExecutionSeconds: number;
  /** Memory of one hunt (max_memory_usage), and of the right side of a join (max_bytes_in_join). */
  maxMemoryBytes: number;
  /** Rows and uncompressed bytes read from tables (max_rows_to_read, max_bytes_to_read). */
  maxRowsToRead: number;
  maxBytesToRead: number;
  /** Bytes of the result (max_result_bytes). */
  maxResultBytes: number;
  /** Engine threads of one hunt (max_threads): 1 leaves the other cores to searches and inserts. */
  maxThreads: number;
  maxSqlLength: number;
  /** Hunts running at once for one tenant, and in all (in this process). */
  maxConcurrentPerTenant: number;
  maxConcurrent: number;
  /** A hunt that finds no free slot waits this long at most, with at most this many of its tenant's waiting; then 429. */
  queueWaitMs: number;
  maxQueuedPerTenant: number;
}

export const DEFAULT_HUNT_LIMITS: HuntLimits = {
  maxRows: 10_000, maxExecutionSeconds: 10, maxMemoryBytes: 1 << 30, maxRowsToRead: 1_000_000_000, maxBytesToRead: 100 * 2 ** 30,
  maxResultBytes: 64 * 2 ** 20, maxThreads: 1, maxSqlLength: 20_000,
  maxConcurrentPerTenant: 1, maxConcurrent: 2, queueWaitMs: 2_000, maxQueuedPerTenant: 2,
};

export type HuntRefusalCode =
  | 'empty' | 'too_long' | 'multiple_statements' | 'syntax' | 'not_select' | 'output_clause' | 'settings'
  | 'table_not_allowed' | 'table_function' | 'table_as_value' | 'function_not_allowed'
  | 'timeout' | 'memory_limit' | 'size_limit' | 'query_failed' | 'busy';

export class HuntRefusal extends Error {
  override name = 'HuntRefusal';
  readonly code: HuntRefusalCode;
  /** For 'busy': when to try again. */
  readonly retryAfterSeconds?: number;

  constructor(code: HuntRefusalCode, message: string, retryAfterSeconds?: number) {
    super(message);
    this.code = code;
    if (retryAfterSeconds !== undefined) this.retryAfterSeconds = retryAfterSeconds;
  }
}

export interface HuntResult {
  columns: string[];
  rows: unknown[][];
  elapsed_ms: number;
  truncated: boolean;
}

/**
 * Functions never allowed, whatever category the engine gives them: they read files, URLs, other servers,
 * dictionaries or tables by name, or tell about the server (its version, host, user, settings, time zone, …).
 * A backstop: the allow-list below already leaves all of them out.
 */
const DENIED_FUNCTION = /^(file|filesystem\w*|url\w*|s3\w*|hdfs\w*|azure\w*|gcs|remote\w*|cluster\w*|input|mysql|postgresql|mongodb|redis|sqlite|jdbc|odbc|executable\w*|dict\w*|joinget\w*|hascolumnintable|getmacro|getsetting\w*|getserversetting|getmergetreesetting|showcertificate|version|revision|buildid|chdb|hostname|fqdn|fullhostname|uptime|serveruuid|currentuser|current_user|session_user|user|authenticateduser|authuser|currentdatabase|current_database|database|schema|currentschemas|currentprofiles|currentroles|enabledprofiles|enabledroles|defaultprofiles|defaultroles|tcpport|getserverport|getosKernelVersion|servertimezone|timezone|timeZone|zookeepersessionuptime|shardnum|shardcount|queryid|query_id|currentqueryid|initialqueryid|ai\w*|addresstoline\w*|addresstosymbol|demangle|logtrace|tid|throwif|globalvariable|getclienthttpheader|connectionid|region\w*)$/i;

/** Engine function categories (system.functions.categories) a hunt may use: computation over its own rows. */
const ALLOWED_CATEGORIES = new Set([
  'Aggregate Functions', 'Arithmetic', 'Arrays', 'Bit', 'Comparison', 'Conditional', 'Dates and Times', 'Encoding', 'Hash',
  'IP Address', 'JSON', 'Logical', 'Map', 'Mathematical', 'Null', 'Random Number', 'Rounding', 'String', 'String Replacement',
  'String Search', 'String Splitting', 'Time Window', 'Tuple', 'Type Conversion', 'URL', 'UUID',
]);

/**
 * Functions allowed besides those categories: syntax the parser writes as functions (lambdas, EXISTS, `::`,
 * CASE x WHEN), a few harmless ones the engine files under "Other", and a core set that also lets hunts run on
 * a server whose system.functions has no categories (older ClickHouse).
 */
const ALLOWED_FUNCTIONS = new Set(`lambda exists _CAST caseWithExpression caseWithExpr
  toTypeName toColumnTypeName materialize ignore identity isConstant transform bar countDigits visibleWidth
  formatReadableSize formatReadableDecimalSize formatReadableQuantity formatReadableTimeDelta parseReadableSize
  parseReadableSizeOrNull parseReadableSizeOrZero parseTimeDelta runningDifference runningDifferenceStartingWithFirstValue
  neighbor MACNumToString MACStringToNum MACStringToOUI sleep
  equals notEquals less greater lessOrEquals greaterOrEquals and or not xor in notIn globalIn globalNotIn like notLike
  ilike notILike match extract extractAll position positionCaseInsensitive multiSearchAny multiMatchAny plus minus multiply
  divide intDiv modulo negate abs if multiIf isNull isNotNull ifNull coalesce nullIf assumeNotNull tuple tupleElement
  array arrayElement has hasAny hasAll indexOf length empty notEmpty arrayJoin arrayMap arrayFilter arrayExists arrayAll
  arrayCount arrayDistinct arraySort arrayStringConcat splitByChar splitByString lower upper lowerUTF8 upperUTF8 concat
  substring trimBoth trimLeft trimRight replaceAll replaceOne replaceRegexpAll replaceRegexpOne startsWith endsWith
  toString toUInt8 toUInt16 toUInt32 toUInt64 toInt8 toInt16 toInt32 toInt64 toFloat64 toDate toDateTime toDateTime64
  CAST now now64 today yesterday toStartOfMinute toStartOfFiveMinutes toStartOfHour toStartOfDay toStartOfInterval toHour
  toYYYYMMDD dateDiff formatDateTime parseDateTimeBestEffort toIntervalSecond toIntervalMinute toIntervalHour
  toIntervalDay toIntervalWeek toIntervalMonth toUnixTimestamp fromUnixTimestamp JSONExtract JSONExtractString
  JSONExtractInt JSONExtractUInt JSONExtractFloat JSONExtractBool JSONExtractRaw JSONExtractArrayRaw JSONHas JSONLength
  visitParamExtractString simpleJSONExtractString cityHash64 sipHash64 MD5 SHA256 hex unhex base64Encode base64Decode
  IPv4NumToString IPv4StringToNum toIPv4 toIPv6 isIPAddressInRange domain path round floor ceil greatest least
  count sum min max avg any anyLast uniq uniqExact groupArray groupUniqArray argMin argMax topK quantile median
  row_number rank dense_rank lagInFrame leadInFrame`.split(/\s+/));

/** Aggregate function combinators (countIf, uniqExactArray, sumForEach, …), tried longest first. */
const COMBINATORS = ['MergeState', 'SimpleState', 'OrDefault', 'Resample', 'Distinct', 'ForEach', 'OrNull', 'ArgMin', 'ArgMax',
  'State', 'Merge', 'Array', 'Map', 'If'];

export interface FunctionInfo { category: string; aggregate: boolean }

export interface FunctionCatalogue {
  /** By exact name (aliases resolved to their function's category). */
  exact: ReadonlyMap<string, FunctionInfo>;
  /** Case-insensitive functions, by lower-case name. */
  insensitive: ReadonlyMap<string, FunctionInfo>;
}

/** The function catalogue from rows of system.functions (name, is_aggregate, case_insensitive, alias_to, categories). */
export function functionCatalogue(rows: { name: string; is_aggregate: number | string; case_insensitive: number | string; alias_to: string; categories?: string }[]): FunctionCatalogue {
  const own = new Map(rows.filter((r) => !r.alias_to).map((r) => [r.name, { category: r.categories ?? '', aggregate: Number(r.is_aggregate) === 1 }]));
  const exact = new Map<string, FunctionInfo>();
  const insensitive = new Map<string, FunctionInfo>();
  for (const r of rows) {
    const info = r.alias_to ? own.get(r.alias_to) ?? { category: '', aggregate: Number(r.is_aggregate) === 1 } : own.get(r.name)!;
    exact.set(r.name, info);
    if (Number(r.case_insensitive) === 1) insensitive.set(r.name.toLowerCase(), info);
  }
  return { exact, insensitive };
}

const EMPTY_FUNCTIONS: FunctionCatalogue = { exact: new Map(), insensitive: new Map() };

function functionInfo(name: string, f: FunctionCatalogue): FunctionInfo | undefined {
  return f.exact.get(name) ?? f.insensitive.get(name.toLowerCase());
}

function allowedFunction(name: string, f: FunctionCatalogue): boolean {
  if (DENIED_FUNCTION.test(name)) return false;
  if (ALLOWED_FUNCTIONS.has(name)) return true;
  const info = functionInfo(name, f);
  return info ? ALLOWED_CATEGORIES.has(info.category) : allowedWithCombinators(name, f, 0);
}

/** An aggregate function with combinators (not listed by the engine): its base must be an allowed aggregate. */
function allowedWithCombinators(name: string, f: FunctionCatalogue, depth: number): boolean {
  return depth < 4 && COMBINATORS.some((c) => {
    if (name.length <= c.length || !name.endsWith(c)) return false;
    const base = name.slice(0, -c.length);
    const info = functionInfo(base, f);
    if (info || ALLOWED_FUNCTIONS.has(base)) return (info?.aggregate ?? true) && allowedFunction(base, f);
    return allowedWithCombinators(base, f, depth + 1);
  });
}

/** The one statement of `sql` (one trailing ';' allowed); refuses empty, over-long and multi-statement text. */
export function singleStatement(sql: string, limits: HuntLimits): string {
  const text = sql.trim().replace(/;\s*$/, '');
  if (text === '') throw new HuntRefusal('empty', 'the query is empty');
  if (text.length > limits.maxSqlLength) throw new HuntRefusal('too_long', `the query is longer than ${limits.maxSqlLength} characters`);
  if (text.includes(';')) throw new HuntRefusal('multiple_statements', "only one statement is allowed (a ';' may only end the query)");
  return text;
}

export interface AstNode {
  depth: number;
  kind: string;
  /** What follows the kind (a name), without the `(alias …)` and `(children N)` annotations. */
  arg: string;
}

/** Parses the lines of `EXPLAIN AST` (one node per line, indented one space per level). */
export function parseExplainAst(lines: string[]): AstNode[] {
  return lines.filter((l) => l.trim() !== '').map((line) => {
    const depth = line.length - line.trimStart().length;
    const body = line.trim().replace(/\s*\(children \d+\)$/, '').replace(/\s*\(alias [^)]*\)/g, '');
    const space = body.indexOf(' ');
    return space < 0 ? { depth, kind: body, arg: '' } : { depth, kind: body.slice(0, space), arg: body.slice(space + 1).trim() };
  });
}

export interface HuntCatalogue {
  /** Allowed tables that exist in the event store's database. */
  allowed: ReadonlySet<string>;
  /** Every table name of the event store's database and every database name (to refuse tables used as values). */
  names: ReadonlySet<string>;
  /** Names a CTE may not take, lower-cased: every table of every database (system.events, …), every database, HUNT_TABLES. */
  reserved: ReadonlySet<string>;
  /** The engine's functions, for the allow-list; empty: only the functions Vigil itself allows. */
  functions: FunctionCatalogue;
}

/** `WITH name AS (` and `, name AS (`: the names a statement may declare as common table expressions. */
const CTE_DECLARATION = /(?:\bWITH(?:\s+RECURSIVE)?|,)\s*(`[^`]+`|"[^"]+"|[A-Za-z_][A-Za-z0-9_]*)\s+AS\s*\(/gi;

/**
 * The common table expression names a statement declares (EXPLAIN AST does not show them). A CTE named like a
 * table or database the engine knows (`WITH events AS (…)`, `WITH telemetry_events AS (…)`) is refused, so a
 * table source that matches a CTE name can only be the query's own CTE, never a real table. A false match (in a
 * string, say) allows nothing more; it can only refuse.
 */
export function cteNamesOf(statement: string, cat: Pick<HuntCatalogue, 'reserved'>): Set<string> {
  const names = [...statement.matchAll(CTE_DECLARATION)].map((m) => m[1].replace(/^[`"]|[`"]$/g, ''));
  for (const n of names) {
    if (n.includes('.') || cat.reserved.has(n.toLowerCase())) {
      throw new HuntRefusal('table_not_allowed', `a CTE may not take the name of a table or database (${n}); rename it`);
    }
  }
  return new Set(names);
}

function checkTable(node: AstNode, cat: HuntCatalogue, ctes: ReadonlySet<string>): void {
  if (!cat.allowed.has(node.arg) && !ctes.has(node.arg)) {
    throw new HuntRefusal('table_not_allowed', `table ${node.arg} is not allowed; a hunt reads only ${[...cat.allowed].join(', ')}`);
  }
}

function checkTableExpression(nodes: AstNode[], i: number): void {
  const source = nodes[i + 1];
  if (source?.kind === 'Function') throw new HuntRefusal('table_function', `table function ${source.arg}() is not allowed`);
  if (source?.kind !== 'TableIdentifier' && source?.kind !== 'Subquery') {
    throw new HuntRefusal('table_not_allowed', `a table source of kind ${source?.kind ?? 'nothing'} is not allowed`);
  }
}

function checkIdentifier(node: AstNode, cat: HuntCatalogue): void {
  const first = node.arg.split('.')[0];
  if (cat.names.has(node.arg) || (node.arg.includes('.') && cat.names.has(first))) {
    throw new HuntRefusal('table_as_value', `${node.arg} names a table or database; tables may only be read in FROM or JOIN`);
  }
}

/**
 * Throws a HuntRefusal unless the parse tree is one SELECT over allowed tables (or the statement's own CTEs),
 * calling allowed functions only, without settings or output clauses.
 */
export function checkHuntAst(nodes: AstNode[], cat: HuntCatalogue, statement = ''): void {
  const ctes = cteNamesOf(statement, cat);
  const root = nodes[0];
  if (!root || root.kind !== 'SelectWithUnionQuery' || nodes.some((n, i) => i > 0 && n.depth === 0)) {
    throw new HuntRefusal('not_select', `only a SELECT is allowed, not ${root?.kind.replace(/Query$/, '') ?? 'nothing'}`);
  }
  if (nodes.filter((n) => n.depth === 1).length !== 1) throw new HuntRefusal('output_clause', 'INTO OUTFILE and FORMAT are not allowed');
  nodes.forEach((node, i) => {
    if (node.kind === 'Set' || node.kind === 'SetQuery') throw new HuntRefusal('settings', 'SETTINGS are not allowed; the server sets the limits');
    if (node.kind === 'TableExpression') checkTableExpression(nodes, i);
    if (node.kind === 'TableIdentifier') checkTable(node, cat, ctes);
    if (node.kind === 'Identifier') checkIdentifier(node, cat);
    if (node.kind === 'Function' && !(nodes[i - 1]?.kind === 'TableExpression') && !allowedFunction(node.arg, cat.functions)) {
      throw new HuntRefusal('function_not_allowed', `function ${node.arg}() is not allowed in a hunt`);
    }
  });
}

const TENANT_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * The statement that runs a checked query for one tenant, read-only, within limits the engine enforces, with FINAL
 * on every table that has it (`final = 1`): rows of a batch stored twice (a crash, then a replay) count once.
 * (`events_hourly` is summed at insert: a replayed batch counts twice there; see docs/scaling.md.)
 */
export function wrapHuntQuery(statement: string, tenantId: string, tables: Iterable<string>, limits: HuntLimits): string {
  if (!TENANT_ID.test(tenantId)) throw new Error(`tenant id ${JSON.stringify(tenantId)} cannot be used in a hunt filter`);
  const filters = [...tables].map((t) => `'${t}': 'tenant_id = \\'${tenantId}\\''`).join(', ');
  const int = (n: number) => Math.max(0, Math.floor(n));
  return `SELECT * FROM (\n${statement}\n) LIMIT ${int(limits.maxRows) + 1}
SETTINGS additional_table_filters = {${filters}},
  max_execution_time = ${int(limits.maxExecutionSeconds)}, timeout_overflow_mode = 'throw',
  max_memory_usage = ${int(limits.maxMemoryBytes)}, max_bytes_in_join = ${int(limits.maxMemoryBytes)}, join_overflow_mode = 'throw',
  max_rows_to_read = ${int(limits.maxRowsToRead)}, max_bytes_to_read = ${int(limits.maxBytesToRead)}, read_overflow_mode = 'throw',
  max_result_rows = ${int(limits.maxRows) + 1}, max_result_bytes = ${int(limits.maxResultBytes)}, result_overflow_mode = 'throw',
  max_threads = ${Math.max(1, int(limits.maxThreads))}, allow_introspection_functions = 0,
  final = 1, readonly = 1`;
}

/**
 * An engine error as a caller may see it: the innermost exception's first line, without the engine's version,
 * exception class, error name, the statement it was running ("In scope SELECT …", which shows the wrapper with
 * its tenant filter), the processor or part it was in, the server's user name or file paths.
 */
export function publicMessage(raw: string): string {
  let m = raw.split('\n')[0];
  const inner = m.lastIndexOf('DB::Exception: '); // a cluster wraps the innermost one ("There was an error on [host:9000]: …")
  if (inner >= 0) m = m.slice(inner + 'DB::Exception: '.length);
  return m.replace(/^Code: \d+\.\s*/, '').replace(/^(?:DB::)?Exception:\s*/, '')
    .replace(/\s*\(version [^()]*(?:\([^()]*\)[^()]*)*\)/gi, '')
    .replace(/[:.,]?\s*\(?(?:in scope|while (?:processing|executing|reading|writing)|e\.what\(\)|stack trace)\b.*$/is, '')
    .replace(/(?:[\s.]*\([A-Z0-9_]*[A-Z]{3}[A-Z0-9_]*\))+[\s.]*$/, '')
    .replace(/^[\w.-]+: (?=[A-Z])/, '')
    .replace(/(?:\/[\w.@-]+){3,}\/?/g, '<path>')
    .replace(/\s+/g, ' ').trim().replace(/[:,]$/, '').slice(0, 500);
}

/** ClickHouse error codes of the limits a hunt runs within. */
const TIMEOUT_CODES = new Set([159, 160, 394]); // TIMEOUT_EXCEEDED, TOO_SLOW, QUERY_WAS_CANCELLED
const SIZE_CODES = new Set([158, 191, 290, 307, 396]); // TOO_MANY_ROWS, SET_SIZE_LIMIT_EXCEEDED, LIMIT_EXCEEDED, TOO_MANY_BYTES, TOO_MANY_ROWS_OR_BYTES

/** A refusal for an engine error while checking or running a query (limits hit, unknown column, …). */
export function refusalOf(err: unknown): HuntRefusal {
  const e = err as { message?: string; code?: string | number; clickhouseCode?: number; timedOut?: boolean };
  const message = String(e?.message ?? err);
  if (e?.timedOut || e?.code === 'CHDB_TIMEOUT') return new HuntRefusal('timeout', 'the query ran longer than the time limit');
  const code = Number(/Code: (\d+)/.exec(message)?.[1] ?? e?.clickhouseCode ?? e?.code);
  const reason = publicMessage(message);
  if (TIMEOUT_CODES.has(code)) return new HuntRefusal('timeout', `the query ran longer than the time limit: ${reason}`);
  if (code === 241) return new HuntRefusal('memory_limit', `the query needed more memory than allowed: ${reason}`);
  if (SIZE_CODES.has(code)) return new HuntRefusal('size_limit', `the query read or produced more than allowed: ${reason}`);
  return new HuntRefusal('query_failed', reason || 'the query failed');
}

interface Waiter { tenant: string; grant(release: () => void): void; timer: NodeJS.Timeout }

/**
 * How many hunts run at once: at most `maxConcurrentPerTenant` of one tenant and `maxConcurrent` in all. A hunt
 * that finds no free slot waits (first come, first served, skipping tenants at their own bound) up to
 * `queueWaitMs`, with at most `maxQueuedPerTenant` of its tenant waiting; otherwise it is refused ('busy', with
 * a Retry-After of the time limit: by then a running hunt has ended). A slot is held until the engine has
 * finished the query, not merely until the caller stopped waiting.
 */
export class HuntGate {
  private readonly running = new Map<string, number>();
  private total = 0;
  private readonly waiting: Waiter[] = [];

  /** Hunts running now (for metrics and tests). */
  get active(): number { return this.total; }
  get queued(): number { return this.waiting.length; }

  acquire(tenant: string, limits: HuntLimits): Promise<() => void> {
    const retryAfter = Math.max(1, Math.ceil(limits.maxExecutionSeconds));
    if (this.fits(tenant, limits) && !this.waiting.some((w) => w.tenant === tenant)) return Promise.resolve(this.take(tenant, limits));
    const queuedOfTenant = this.waiting.filter((w) => w.tenant === tenant).length;
    if (limits.queueWaitMs <= 0 || queuedOfTenant >= limits.maxQueuedPerTenant) {
      return Promise.reject(this.busy(tenant, limits, retryAfter));
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        tenant, grant: (release) => { clearTimeout(w.timer); resolve(release); },
        timer: setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(w), 1);
          reject(this.busy(tenant, limits, retryAfter));
        }, limits.queueWaitMs),
      };
      this.waiting.push(w);
    });
  }

  private busy(tenant: string, limits: HuntLimits, retryAfter: number): HuntRefusal {
    const mine = this.running.get(tenant) ?? 0;
    const why = mine >= limits.maxConcurrentPerTenant
      ? `this tenant already runs ${mine} hunt${mine === 1 ? '' : 's'} (at most ${limits.maxConcurrentPerTenant} at once)`
      : `the server already runs ${this.total} hunts (at most ${limits.maxConcurrent} at once)`;
    return new HuntRefusal('busy', `${why}; try again in ${retryAfter} s`, retryAfter);
  }

  private fits(tenant: string, limits: HuntLimits): boolean {
    return this.total < limits.maxConcurrent && (this.running.get(tenant) ?? 0) < limits.maxConcurrentPerTenant;
  }

  private take(tenant: string, limits: HuntLimits): () => void {
    this.total++;
    this.running.set(tenant, (this.running.get(tenant) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const n = (this.running.get(tenant) ?? 1) - 1;
      if (n > 0) this.running.set(tenant, n); else this.running.delete(tenant);
      const next = this.waiting.findIndex((w) => this.fits(w.tenant, limits));
      if (next >= 0) {
        const [w] = this.waiting.splice(next, 1);
        w.grant(this.take(w.tenant, limits));
      }
    };
  }
}
