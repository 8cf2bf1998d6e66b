// Threat hunting SQL: deciding whether a caller's query may run, on the engine's own parse tree (the text of
// ClickHouse's `EXPLAIN AST`), and wrapping it so it can only see the caller's tenant and stays within row,
// time and memory limits. Accepted: one SELECT (UNION allowed) whose every table is an allowed table or a
// subquery. Refused, each with a precise reason: several statements, anything that is not a SELECT, other or
// qualified tables (system.*, another database), table functions (file(), url(), remote(), …), functions that
// reach outside the query (file, dictGet, joinGet, …), tables used as values (`x IN table`), SETTINGS,
// INTO OUTFILE and FORMAT. The tenant is enforced by the engine (`additional_table_filters` on every allowed
// table, which applies to every read of it, in subqueries and joins too), not by the query text. Pure.

export const HUNT_TABLES = ['telemetry_events', 'process_nodes', 'events_hourly', 'alerts'] as const;

export interface HuntLimits {
  /** Most rows returned (one more is read to tell whether the result was truncated). */
  maxRows: number;
  maxExecutionSeconds: number;
  maxMemoryBytes: number;
  maxSqlLength: number;
}

export const DEFAULT_HUNT_LIMITS: HuntLimits = { maxRows: 10_000, maxExecutionSeconds: 10, maxMemoryBytes: 1 << 30, maxSqlLength: 20_000 };

export type HuntRefusalCode =
  | 'empty' | 'too_long' | 'multiple_statements' | 'syntax' | 'not_select' | 'output_clause' | 'settings'
  | 'table_not_allowed' | 'table_function' | 'table_as_value' | 'function_not_allowed'
  | 'timeout' | 'memory_limit' | 'query_failed';

export class HuntRefusal extends Error {
  override name = 'HuntRefusal';
  readonly code: HuntRefusalCode;

  constructor(code: HuntRefusalCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface HuntResult {
  columns: string[];
  rows: unknown[][];
  elapsed_ms: number;
  truncated: boolean;
}

/** Functions that read files, URLs, other servers, dictionaries or tables by name. */
const DENIED_FUNCTION = /^(file|filesystem\w*|url\w*|s3\w*|hdfs\w*|azure\w*|gcs|remote\w*|cluster\w*|input|mysql|postgresql|mongodb|redis|sqlite|jdbc|odbc|executable\w*|dict\w*|joinget\w*|hascolumnintable|getmacro|getsetting|getserversetting|showcertificate)$/i;

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
  /** Every table name and database name the engine knows (to refuse tables used as values). */
  names: ReadonlySet<string>;
}

/** `WITH name AS (` and `, name AS (`: the names a statement may declare as common table expressions. */
const CTE_DECLARATION = /(?:\bWITH|,)\s*(`[^`]+`|"[^"]+"|[A-Za-z_][A-Za-z0-9_]*)\s+AS\s*\(/gi;

/**
 * The common table expression names of a statement (EXPLAIN AST does not show them), minus every name the engine
 * knows as a table or database: a table source that matches one can then only be the query's own CTE (or a table
 * that does not exist), never a real table. A false match (in a string, say) allows nothing more.
 */
export function cteNamesOf(statement: string, cat: HuntCatalogue): Set<string> {
  const names = [...statement.matchAll(CTE_DECLARATION)].map((m) => m[1].replace(/^[`"]|[`"]$/g, ''));
  return new Set(names.filter((n) => !n.includes('.') && !cat.names.has(n)));
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
 * Throws a HuntRefusal unless the parse tree is one SELECT over allowed tables (or the statement's own CTEs)
 * without settings or output clauses.
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
    if (node.kind === 'Function' && DENIED_FUNCTION.test(node.arg)) throw new HuntRefusal('function_not_allowed', `function ${node.arg}() is not allowed`);
  });
}

const TENANT_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** The statement that runs a checked query for one tenant, read-only, within the limits. */
export function wrapHuntQuery(statement: string, tenantId: string, tables: Iterable<string>, limits: HuntLimits): string {
  if (!TENANT_ID.test(tenantId)) throw new Error(`tenant id ${JSON.stringify(tenantId)} cannot be used in a hunt filter`);
  const filters = [...tables].map((t) => `'${t}': 'tenant_id = \\'${tenantId}\\''`).join(', ');
  return `SELECT * FROM (\n${statement}\n) LIMIT ${limits.maxRows + 1}
SETTINGS additional_table_filters = {${filters}}, max_result_rows = ${limits.maxRows + 1},
  max_execution_time = ${limits.maxExecutionSeconds}, max_memory_usage = ${limits.maxMemoryBytes}, readonly = 1`;
}

/** A refusal for an engine error while running a checked query (limits hit, unknown column, …). */
export function refusalOf(err: unknown): HuntRefusal {
  const message = String((err as Error)?.message ?? err);
  const code = Number(/Code: (\d+)/.exec(message)?.[1] ?? (err as { code?: string })?.code);
  const reason = message.replace(/^Code: \d+\. DB::Exception: /, '').split('\n')[0].slice(0, 500);
  if (code === 159 || code === 160) return new HuntRefusal('timeout', `the query ran longer than the time limit: ${reason}`);
  if (code === 241) return new HuntRefusal('memory_limit', `the query needed more memory than allowed: ${reason}`);
  return new HuntRefusal('query_failed', reason);
}
