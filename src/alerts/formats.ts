// What an alert looks like at a sink: the facts an analyst needs without a second lookup (rule id, title, author,
// level, MITRE techniques and tactics, host name, user, the process's command line, key evidence: file path and
// destination) taken once from the alert as the API shows it, then written as Vigil JSON, Elastic Common Schema,
// OCSF Detection Finding (class 2004), ArcSight CEF, a line of text from the sink's template, an RFC 5424 syslog
// message, and the bodies of Slack, Microsoft Teams and PagerDuty Events v2. docs/alert-delivery.md shows each.
// Pure.

import type { SinkFormat } from './sink.ts';

/** The alert as the API shows it (src/api/routes/alerts.ts alertView), as far as delivery reads it. */
export interface AlertDoc {
  id: string;
  tenant_id: string;
  host_id?: string;
  rule: { id: string; title: string; author?: string; level: string; description?: string; references?: string[] };
  techniques?: { id: string; name: string; tactics: string[] }[];
  events?: Record<string, unknown>[];
  first_seen: string;
  last_seen: string;
  occurrences?: number;
  process?: { command_line?: string; executable?: string; pid?: number; user_name?: string; entity_id?: string };
  [k: string]: unknown;
}

export interface AlertFacts {
  alertId: string;
  tenantId: string;
  ruleId: string;
  ruleTitle: string;
  ruleAuthor: string;
  level: string;
  description: string;
  techniques: { id: string; name: string; tactics: string[] }[];
  tactics: string[];
  hostId: string;
  hostName: string;
  user: string;
  commandLine: string;
  executable: string;
  pid: number | null;
  filePath: string;
  destinationIp: string;
  destinationPort: number | null;
  firstSeen: string;
  lastSeen: string;
  occurrences: number;
}

const get = (o: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
/** The first non-empty string at `path` among the alert's kept events. */
const fromEvents = (a: AlertDoc, path: string): string => (a.events ?? []).map((e) => str(get(e, path))).find((s) => s) ?? '';

export function factsOf(a: AlertDoc): AlertFacts {
  const port = Number(fromEvents(a, 'destination.port'));
  return {
    alertId: a.id, tenantId: a.tenant_id, ruleId: a.rule.id, ruleTitle: a.rule.title, ruleAuthor: a.rule.author ?? '', level: a.rule.level,
    description: a.rule.description ?? '',
    techniques: (a.techniques ?? []).map((t) => ({ id: t.id, name: t.name, tactics: t.tactics })),
    tactics: [...new Set((a.techniques ?? []).flatMap((t) => t.tactics))],
    hostId: a.host_id ?? fromEvents(a, 'agent.id'),
    hostName: fromEvents(a, 'host.hostname') || fromEvents(a, 'agent.hostname') || fromEvents(a, 'agent.name') || (a.host_id ?? ''),
    user: a.process?.user_name || fromEvents(a, 'user.name'),
    commandLine: a.process?.command_line || fromEvents(a, 'process.command_line'),
    executable: a.process?.executable || fromEvents(a, 'process.executable'),
    pid: a.process?.pid ?? (Number(fromEvents(a, 'process.pid')) || null),
    filePath: fromEvents(a, 'file.path'),
    destinationIp: fromEvents(a, 'destination.ip'),
    destinationPort: Number.isInteger(port) && port > 0 ? port : null,
    firstSeen: a.first_seen, lastSeen: a.last_seen, occurrences: a.occurrences ?? 1,
  };
}

/** Sigma-style tags of the alert, for sink filters: `attack.t1059.004`, `attack.execution`. */
export function tagsOf(f: AlertFacts): string[] {
  return [...f.techniques.map((t) => `attack.${t.id.toLowerCase()}`), ...f.tactics.map((t) => `attack.${t.toLowerCase().replace(/[\s-]+/g, '_')}`)];
}

// ---- severities on each scale ----

const LEVEL_RANK: Record<string, number> = { informational: 0, low: 1, medium: 2, high: 3, critical: 4 };
export const levelRank = (level: string): number => LEVEL_RANK[level] ?? 0;
/** OCSF severity_id: 1 Informational … 5 Critical. */
const ocsfSeverity = (level: string) => levelRank(level) + 1;
/** CEF severity 0-10. */
const cefSeverity = (level: string) => [1, 3, 5, 8, 10][levelRank(level)];
/** ECS event.severity (0-100, the Elastic detection engine's scale). */
const ecsSeverity = (level: string) => [0, 21, 47, 73, 99][levelRank(level)];
/** RFC 5424 severity: critical 2, high 3 (error), medium 4 (warning), low 5 (notice), informational 6. */
export const syslogSeverity = (level: string) => [6, 5, 4, 3, 2][levelRank(level)];

const VENDOR = 'Vigil';
const PRODUCT = 'Vigil EDR';
const VERSION = '1.0';

// ---- the structured formats ----

const evidence = (f: AlertFacts) => ({
  ...(f.filePath ? { file_path: f.filePath } : {}),
  ...(f.destinationIp ? { destination: f.destinationPort ? `${f.destinationIp}:${f.destinationPort}` : f.destinationIp } : {}),
});

/** Vigil JSON: the API's alert document with the key facts beside it, as the webhook has always sent it. */
export function vigilJson(a: AlertDoc, f: AlertFacts = factsOf(a)) {
  return {
    ...a,
    summary: {
      rule: { id: f.ruleId, title: f.ruleTitle, author: f.ruleAuthor, level: f.level }, techniques: f.techniques.map(({ id, name }) => ({ id, name })), tactics: f.tactics,
      host: f.hostName, user: f.user, command_line: f.commandLine, ...evidence(f),
    },
  };
}

/** Elastic Common Schema 8 (an alert document as Elastic Security writes signals). */
export function ecs(a: AlertDoc, f: AlertFacts = factsOf(a)) {
  return {
    '@timestamp': f.lastSeen,
    ecs: { version: '8.11.0' },
    event: { kind: 'alert', category: ['intrusion_detection'], type: ['info'], id: f.alertId, severity: ecsSeverity(f.level), created: f.firstSeen, provider: 'vigil', dataset: 'vigil.alert' },
    message: f.ruleTitle,
    rule: { id: f.ruleId, uuid: f.ruleId, name: f.ruleTitle, author: f.ruleAuthor ? [f.ruleAuthor] : [], description: f.description, ruleset: 'vigil' },
    threat: f.techniques.map((t) => ({ framework: 'MITRE ATT&CK', technique: [{ id: t.id, name: t.name }], tactic: { name: t.tactics } })),
    host: { id: f.hostId, name: f.hostName, hostname: f.hostName },
    user: { name: f.user },
    process: { command_line: f.commandLine, executable: f.executable, ...(f.pid !== null ? { pid: f.pid } : {}) },
    ...(f.filePath ? { file: { path: f.filePath } } : {}),
    ...(f.destinationIp ? { destination: { ip: f.destinationIp, ...(f.destinationPort ? { port: f.destinationPort } : {}) } } : {}),
    labels: { tenant_id: f.tenantId, severity: f.level },
    observer: { vendor: VENDOR, product: PRODUCT, type: 'edr' },
  };
}

/** OCSF 1.1 Detection Finding (category 2 Findings, class 2004), activity Create. */
export function ocsf(a: AlertDoc, f: AlertFacts = factsOf(a)) {
  const time = Date.parse(f.lastSeen) || 0;
  return {
    category_uid: 2, category_name: 'Findings', class_uid: 2004, class_name: 'Detection Finding',
    activity_id: 1, activity_name: 'Create', type_uid: 200401, type_name: 'Detection Finding: Create',
    severity_id: ocsfSeverity(f.level), severity: f.level === 'informational' ? 'Informational' : f.level[0].toUpperCase() + f.level.slice(1),
    status_id: 1, status: 'New', time,
    metadata: { version: '1.1.0', product: { name: PRODUCT, vendor_name: VENDOR, version: VERSION }, uid: f.alertId, tenant_uid: f.tenantId },
    finding_info: {
      uid: f.alertId, title: f.ruleTitle, desc: f.description,
      created_time: Date.parse(f.firstSeen) || time, first_seen_time: Date.parse(f.firstSeen) || time, last_seen_time: time,
      analytic: { uid: f.ruleId, name: f.ruleTitle, type_id: 1, type: 'Rule' },
      attacks: f.techniques.map((t) => ({ technique: { uid: t.id, name: t.name }, tactics: t.tactics.map((name) => ({ name })), version: 'ATT&CK' })),
      product_uid: 'vigil',
    },
    device: { uid: f.hostId, hostname: f.hostName, name: f.hostName, type_id: 0 },
    actor: { user: { name: f.user }, process: { cmd_line: f.commandLine, file: { path: f.executable, name: f.executable.split('/').pop() ?? '' }, ...(f.pid !== null ? { pid: f.pid } : {}) } },
    evidences: [{
      process: { cmd_line: f.commandLine, ...(f.pid !== null ? { pid: f.pid } : {}) },
      ...(f.filePath ? { file: { path: f.filePath, name: f.filePath.split('/').pop() ?? '' } } : {}),
      ...(f.destinationIp ? { dst_endpoint: { ip: f.destinationIp, ...(f.destinationPort ? { port: f.destinationPort } : {}) } } : {}),
    }],
    unmapped: { rule_author: f.ruleAuthor, occurrences: f.occurrences },
  };
}

/** A CEF header field: `|` and `\` escaped. */
const cefHeader = (s: string) => s.replace(/[\\|]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ');
/** A CEF extension value: `\`, `=` escaped, newlines as \n. */
const cefValue = (s: string) => s.replace(/[\\=]/g, (c) => `\\${c}`).replace(/\r?\n/g, '\\n');

/** ArcSight CEF:0 (for syslog): header, then key=value extensions (standard keys, custom strings with labels). */
export function cef(a: AlertDoc, f: AlertFacts = factsOf(a)): string {
  const ext: [string, string | number][] = [
    ['rt', Date.parse(f.lastSeen) || 0], ['externalId', f.alertId], ['dhost', f.hostName], ['duser', f.user],
    ['cs1Label', 'ruleId'], ['cs1', f.ruleId], ['cs2Label', 'ruleAuthor'], ['cs2', f.ruleAuthor],
    ['cs3Label', 'mitreTechniques'], ['cs3', f.techniques.map((t) => t.id).join(',')], ['cs4Label', 'mitreTactics'], ['cs4', f.tactics.join(',')],
    ['cs5Label', 'tenant'], ['cs5', f.tenantId], ['cs6Label', 'commandLine'], ['cs6', f.commandLine],
    ['sproc', f.executable], ['filePath', f.filePath], ['dst', f.destinationIp], ['dpt', f.destinationPort ?? ''],
    ['cnt', f.occurrences],
  ];
  const extensions = ext.filter(([, v]) => v !== '').map(([k, v]) => `${k}=${cefValue(String(v))}`).join(' ');
  return `CEF:0|${cefHeader(VENDOR)}|${cefHeader(PRODUCT)}|${VERSION}|${cefHeader(f.ruleId)}|${cefHeader(f.ruleTitle)}|${cefSeverity(f.level)}|${extensions}`;
}

// ---- human-readable forms ----

export const DEFAULT_TEMPLATE = '[{{level}}] {{rule.title}} on {{host}} (user {{user}}): {{command_line}}';

const TEMPLATE_FIELDS: Record<string, (f: AlertFacts) => string> = {
  'alert.id': (f) => f.alertId, tenant: (f) => f.tenantId, level: (f) => f.level, severity: (f) => f.level,
  'rule.id': (f) => f.ruleId, 'rule.title': (f) => f.ruleTitle, 'rule.author': (f) => f.ruleAuthor, 'rule.level': (f) => f.level,
  'rule.description': (f) => f.description,
  host: (f) => f.hostName, 'host.name': (f) => f.hostName, 'host.id': (f) => f.hostId, user: (f) => f.user,
  command_line: (f) => f.commandLine, 'process.command_line': (f) => f.commandLine, executable: (f) => f.executable,
  'file.path': (f) => f.filePath, destination: (f) => (f.destinationIp ? `${f.destinationIp}${f.destinationPort ? `:${f.destinationPort}` : ''}` : ''),
  techniques: (f) => f.techniques.map((t) => `${t.id} ${t.name}`).join(', '), tactics: (f) => f.tactics.join(', '),
  first_seen: (f) => f.firstSeen, last_seen: (f) => f.lastSeen, occurrences: (f) => String(f.occurrences),
};
export const TEMPLATE_NAMES: readonly string[] = Object.keys(TEMPLATE_FIELDS);

/** The names a template uses that are not fields (for a 400 when a sink is created). */
export function unknownTemplateFields(template: string): string[] {
  return [...template.matchAll(/\{\{\s*([\w.]+)\s*\}\}/g)].map((m) => m[1]).filter((n) => !(n in TEMPLATE_FIELDS));
}

/** `{{field}}` replaced by the alert's value ('-' when empty). */
export function renderTemplate(template: string, f: AlertFacts): string {
  return template.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_, name: string) => TEMPLATE_FIELDS[name]?.(f) || '-');
}

/** The evidence lines of a human-readable message. */
export function detailLines(f: AlertFacts): [string, string][] {
  const rows: [string, string][] = [
    ['Rule', `${f.ruleTitle} (${f.ruleId})`], ['Level', f.level], ['Author', f.ruleAuthor], ['Host', f.hostName], ['User', f.user],
    ['Command line', f.commandLine], ['File', f.filePath],
    ['Destination', f.destinationIp ? `${f.destinationIp}${f.destinationPort ? `:${f.destinationPort}` : ''}` : ''],
    ['MITRE ATT&CK', f.techniques.map((t) => `${t.id} ${t.name}`).join(', ')], ['Tactics', f.tactics.join(', ')], ['Alert', f.alertId],
  ];
  return rows.filter(([, v]) => v);
}

/** A structured sink's body in its format (`text`: the template's line). */
export function render(format: SinkFormat, a: AlertDoc, template: string | null): string {
  const f = factsOf(a);
  switch (format) {
    case 'vigil': return JSON.stringify(vigilJson(a, f));
    case 'ecs': return JSON.stringify(ecs(a, f));
    case 'ocsf': return JSON.stringify(ocsf(a, f));
    case 'cef': return cef(a, f);
    case 'text': return renderTemplate(template ?? DEFAULT_TEMPLATE, f);
  }
}

// ---- RFC 5424 ----

/** An RFC 5424 PARAM-VALUE: `"`, `\` and `]` escaped. */
const sdValue = (s: string) => s.replace(/["\\\]]/g, (c) => `\\${c}`);
/** PRINTUSASCII without space, at most `max` characters; '-' when empty. */
const header = (s: string, max: number) => s.replace(/[^\x21-\x7e]/g, '_').slice(0, max) || '-';

const FACILITY_SECURITY = 4; // security/authorization messages (RFC 5424 facility 4)

/**
 * One RFC 5424 message: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [vigil@32473 …] BOM MSG, where the structured
 * data carries the key facts (so a collector can index them without parsing MSG) and MSG is the body in the sink's
 * format. 32473 is the example enterprise number RFC 5612 reserves for documentation; docs/alert-delivery.md says so.
 */
export function syslog5424(a: AlertDoc, body: string, hostname: string, at: Date): string {
  const f = factsOf(a);
  const pri = FACILITY_SECURITY * 8 + syslogSeverity(f.level);
  const params: [string, string][] = [
    ['alert_id', f.alertId], ['tenant', f.tenantId], ['rule_id', f.ruleId], ['rule_title', f.ruleTitle], ['rule_author', f.ruleAuthor],
    ['level', f.level], ['mitre', f.techniques.map((t) => t.id).join(',')], ['tactics', f.tactics.join(',')], ['host', f.hostName],
    ['user', f.user], ['command_line', f.commandLine], ['file_path', f.filePath],
    ['destination', f.destinationIp ? `${f.destinationIp}${f.destinationPort ? `:${f.destinationPort}` : ''}` : ''],
  ];
  const sd = `[vigil@32473 ${params.filter(([, v]) => v).map(([k, v]) => `${k}="${sdValue(v)}"`).join(' ')}]`;
  return `<${pri}>1 ${at.toISOString()} ${header(hostname, 255)} vigil - ${header(`alert.${f.level}`, 32)} ${sd} \uFEFF${body.replace(/[\r\n]+/g, ' ')}`;
}

// ---- chat and paging ----

export function slackBody(a: AlertDoc, template: string | null) {
  const f = factsOf(a);
  const text = renderTemplate(template ?? DEFAULT_TEMPLATE, f);
  return {
    text,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: `${f.level.toUpperCase()}: ${f.ruleTitle}`.slice(0, 150) } },
      { type: 'section', fields: detailLines(f).slice(0, 10).map(([k, v]) => ({ type: 'mrkdwn', text: `*${k}*\n${v.slice(0, 1900)}` })) },
    ],
  };
}

/** Microsoft Teams (Workflows / incoming webhook): a message with one Adaptive Card. */
export function teamsBody(a: AlertDoc, template: string | null) {
  const f = factsOf(a);
  return {
    type: 'message',
    attachments: [{
      contentType: 'application/vnd.microsoft.card.adaptive',
      content: {
        $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', type: 'AdaptiveCard', version: '1.4',
        body: [
          { type: 'TextBlock', size: 'Large', weight: 'Bolder', wrap: true, text: `${f.level.toUpperCase()}: ${f.ruleTitle}` },
          { type: 'TextBlock', wrap: true, text: renderTemplate(template ?? DEFAULT_TEMPLATE, f) },
          { type: 'FactSet', facts: detailLines(f).map(([title, value]) => ({ title, value })) },
        ],
      },
    }],
  };
}

/** PagerDuty Events API v2 trigger; dedup_key is the alert id, so PagerDuty folds repeats into one incident. */
export function pagerDutyBody(a: AlertDoc, template: string | null, routingKey: string) {
  const f = factsOf(a);
  const severity = ({ critical: 'critical', high: 'error', medium: 'warning' } as Record<string, string>)[f.level] ?? 'info';
  return {
    routing_key: routingKey, event_action: 'trigger', dedup_key: `vigil-${f.tenantId}-${f.alertId}`,
    payload: {
      summary: renderTemplate(template ?? DEFAULT_TEMPLATE, f).slice(0, 1024), source: f.hostName || f.hostId || 'vigil', severity,
      timestamp: f.lastSeen, component: f.executable || undefined, group: f.tenantId, class: f.ruleId,
      custom_details: Object.fromEntries(detailLines(f)),
    },
  };
}
