// Automated response: a rule names a response (e.g. `kill_process` of the matching process) that runs when it
// fires, guarded by policy. `planAutoResponse` is the pure decision (is it allowed, with which parameters);
// `AutoResponder.onAlert` is the hook the detection stage calls with each alert: it applies the policy, a per-host
// rate limit, and files the command through the dispatcher as `rule:<rule id>` (audited like any request).
// Tenancy: the rule set is shared by every tenant, its responses are not. A response runs only on a host of the
// tenant that owns the rule (the tenant whose principal uploaded it, stamped on the alert by the detector), and a
// rule file's (the operator's) only in the tenants `operatorRuleTenants` names; a rule with no recorded owner
// never responds. The alert's tenant and host are the reporting agent's, from its certificate.

import type { Alert } from '../detect/alerts.ts';
import type { Level } from '../sigma/ir.ts';
import { MAX_REASON_CHARS, type CommandRecord, type ResponseAction } from './model.ts';
import type { Requester } from './dispatcher.ts';

/** The response a rule names, e.g. `{ action: 'kill_process' }` or `{ action: 'collect_triage', params: {…} }`. */
export interface RuleResponse { action: ResponseAction; params?: Record<string, unknown> }

export interface AutoResponsePolicy {
  enabled: boolean;
  /** Actions rules may trigger unattended (default: kill_process and collect_triage; isolation only if listed). */
  allowedActions: ResponseAction[];
  /** Alerts below this level never trigger a response (default high). */
  minLevel: Level;
  /** At most this many automated commands per host per hour (default 5). */
  maxPerHostPerHour: number;
  /** Hosts never acted on automatically (e.g. critical servers). */
  excludedHosts: string[];
  /**
   * Tenants on whose hosts the responses of rule files (built-ins, `--rules` directories: the operator's) may run,
   * or '*' for every tenant. Default: the platform's home tenant `default` only. Uploaded rules respond only in
   * their owner's tenant, whatever this says.
   */
  operatorRuleTenants: string[] | '*';
}

/** The platform's home tenant (src/server/embedded.ts DEFAULT_TENANT): the operator's own. */
const HOME_TENANT = 'default';

export const DEFAULT_AUTO_RESPONSE_POLICY: AutoResponsePolicy = {
  enabled: false, allowedActions: ['kill_process', 'collect_triage'], minLevel: 'high', maxPerHostPerHour: 5, excludedHosts: [],
  operatorRuleTenants: [HOME_TENANT],
};

/** Why a response may not run for this alert's tenant (undefined: it may). */
function tenancyRefusal(alert: Alert, policy: AutoResponsePolicy): string | undefined {
  const owner = alert.rule.owner;
  if (!owner) return 'the rule records no owning tenant (uploaded before owners were recorded: save it again to have it respond)';
  if (owner.kind === 'tenant') {
    return owner.tenant_id === alert.tenant_id ? undefined : `the rule belongs to tenant ${owner.tenant_id}; its response never runs on another tenant's host`;
  }
  const tenants = policy.operatorRuleTenants;
  return tenants === '*' || tenants.includes(alert.tenant_id) ? undefined : `responses of rule files are not configured for tenant ${alert.tenant_id}`;
}

const LEVELS: Level[] = ['informational', 'low', 'medium', 'high', 'critical'];

export type AutoPlan =
  | { run: true; hostId: string; action: ResponseAction; params: Record<string, unknown> }
  | { run: false; reason: string };

/** The matching process of an alert's first event, as kill_process parameters (PID plus entity id). */
function matchingProcess(alert: Alert): Record<string, unknown> | undefined {
  const proc = (alert.events[0] as { process?: { pid?: number; entity_id?: string; start?: string } } | undefined)?.process;
  const entityId = alert.process_entity_id ?? proc?.entity_id;
  if (proc?.pid === undefined || (!entityId && !proc.start)) return undefined;
  return { pid: proc.pid, ...(entityId ? { entity_id: entityId } : { start_time: proc.start }) };
}

/** Decides whether `response` may run for `alert` under `policy`, given the host's automated commands this hour. */
export function planAutoResponse(alert: Alert, response: RuleResponse, policy: AutoResponsePolicy, recentForHost: number): AutoPlan {
  if (!policy.enabled) return { run: false, reason: 'automated response is disabled' };
  if (!alert.host_id) return { run: false, reason: 'the alert names no host' };
  const refusal = tenancyRefusal(alert, policy);
  if (refusal) return { run: false, reason: refusal };
  if (!policy.allowedActions.includes(response.action)) return { run: false, reason: `${response.action} is not allowed unattended` };
  if (LEVELS.indexOf(alert.rule.level) < LEVELS.indexOf(policy.minLevel)) return { run: false, reason: `level ${alert.rule.level} is below ${policy.minLevel}` };
  if (policy.excludedHosts.includes(alert.host_id)) return { run: false, reason: 'the host is excluded from automated response' };
  if (recentForHost >= policy.maxPerHostPerHour) return { run: false, reason: `rate limit of ${policy.maxPerHostPerHour} per host per hour reached` };
  if (response.action !== 'kill_process') return { run: true, hostId: alert.host_id, action: response.action, params: response.params ?? {} };
  const target = matchingProcess(alert);
  if (!target) return { run: false, reason: 'the alert has no process with a PID and entity id or start time' };
  return { run: true, hostId: alert.host_id, action: 'kill_process', params: { signal: 'SIGKILL', ...response.params, ...target } };
}

/** What the responder needs of the dispatcher. */
export interface CommandRequester {
  request(who: Requester, hostId: string, action: string, params: unknown, ttlMs?: number, reason?: string): Promise<CommandRecord>;
}

export class AutoResponder {
  private readonly requester: CommandRequester;
  private readonly policy: AutoResponsePolicy;
  private readonly now: () => number;
  private readonly recent = new Map<string, number[]>();

  constructor(requester: CommandRequester, policy: Partial<AutoResponsePolicy>, now: () => number = Date.now) {
    this.requester = requester;
    this.policy = { ...DEFAULT_AUTO_RESPONSE_POLICY, ...policy };
    this.now = now;
  }

  /** The hook: call with each alert of a rule that names a response. Never throws for a refused plan. */
  async onAlert(alert: Alert, response: RuleResponse): Promise<{ command: CommandRecord } | { skipped: string }> {
    const key = `${alert.tenant_id}\u0000${alert.host_id ?? ''}`;
    const hourAgo = this.now() - 3_600_000;
    const times = (this.recent.get(key) ?? []).filter((t) => t > hourAgo);
    const plan = planAutoResponse(alert, response, this.policy, times.length);
    if (!plan.run) return { skipped: plan.reason };
    this.recent.set(key, [...times, this.now()]);
    const who = { actor: `rule:${alert.rule.id}`, tenantId: alert.tenant_id, requestId: `alert:${alert.id}` };
    const reason = `automated response of rule '${alert.rule.title}' (${alert.rule.id}) to alert ${alert.id}`.slice(0, MAX_REASON_CHARS).toWellFormed();
    return { command: await this.requester.request(who, plan.hostId, plan.action, plan.params, undefined, reason) };
  }
}
