// Response schemas of hosts, agents, process trees and processes (src/api/routes/hosts.ts, agents.ts, processes.ts).

import { arrayOf, BOOLEAN, enumOf, INTEGER, named, nullable, NUMBER, object, recordOf, ref, STRING, TIME, type Schema } from './common.ts';

export const HostHealth = named('HostHealth', "The agent's last reported health (heartbeat); a field is absent until reported.", object({}, {
  version: STRING, sensorMode: STRING, sensorDetail: STRING, queueDepth: NUMBER, spoolBytes: NUMBER, sensorDrops: NUMBER,
  agentDrops: NUMBER, sensorRestarts: NUMBER, rssBytes: NUMBER, cpuPct: NUMBER, eventsSent: NUMBER,
  isolated: { ...BOOLEAN, description: 'network isolation (response action) in force' },
}));

const hostProperties: Record<string, Schema> = {
  id: STRING, hostname: STRING, os: STRING, kernel: STRING, agent_version: STRING, status: enumOf(['online', 'offline']),
  last_seen: nullable(TIME), enrolled_at: TIME, sensor_mode: nullable(STRING), health: ref('HostHealth'),
  certificate: object({ serial: STRING, not_after: TIME, revoked: BOOLEAN }),
};

export const Host = named('Host', 'A host (one agent per host) with its health and certificate.', object(hostProperties));

export const RiskBreakdown = named('RiskBreakdown', "A subject's risk score and what makes it up (src/risk/score.ts).", object({
  score: NUMBER, base_score: NUMBER, weighted_alerts: NUMBER, max_alerts_per_subject: INTEGER, alerts: INTEGER, by_severity: recordOf(INTEGER),
  mitre_mult: NUMBER, techniques_24h: arrayOf(STRING), recency_decay: NUMBER, last_alert: nullable(TIME),
}));

export const HostDetail = named('HostDetail', "A host with its risk (null when the server computes none).", object({
  ...hostProperties, risk: nullable(ref('RiskBreakdown')),
}));

export const HostList = named('HostList', "The tenant's hosts.", object({ hosts: arrayOf(ref('Host')) }));

export const Agent = named('Agent', 'An agent: its host, and the version of each policy it acknowledged (policy name → version).',
  object({ ...hostProperties, policy_versions: recordOf(INTEGER) }));

export const AgentList = named('AgentList', "The tenant's agents.", object({ agents: arrayOf(ref('Agent')) }));

export const ProcessTreeNode = named('ProcessTreeNode', 'A process of a process tree with its children (keyed by entity id).', object({
  tenant_id: STRING, host_id: STRING, entity_id: STRING, pid: INTEGER, ppid: INTEGER, parent_entity_id: STRING, exe: STRING, cmdline: STRING,
  start_ts: TIME, exit_ts: nullable(TIME), exit_code: nullable(INTEGER), uid: INTEGER, gid: INTEGER, user_name: STRING, sha256: STRING,
  mitre: arrayOf(STRING), gtfobins: arrayOf(STRING), ver: { ...INTEGER, description: '0: start row, 1: exit row' },
  children: arrayOf(ref('ProcessTreeNode')),
}));

export const ProcessTree = named('ProcessTree', "A host's process tree, live or at a moment (`at`).", object({
  host_id: STRING, at: TIME, live: BOOLEAN, count: INTEGER, roots: arrayOf(ref('ProcessTreeNode')),
}));

export const ExecutableHash = named('ExecutableHash', "Digests of a process's executable (hex), once the agent hashed it.", object({}, { sha256: STRING, sha1: STRING, md5: STRING }));

export const ExecutableFile = named('ExecutableFile', "A process's executable file: size in bytes, inode and device as decimal text, mtime.", object({}, {
  size: NUMBER, inode: STRING, device: STRING, mtime: STRING,
}));

export const ContainerFields = named('ContainerFields', 'The container a process ran in (from its cgroup path).', object({}, { cgroup_id: STRING, id: STRING, runtime: STRING }));

export const OrchestratorFields = named('OrchestratorFields', 'The orchestrator resource (a Kubernetes pod) a process ran in.', object({}, {
  type: STRING, namespace: STRING, resource: object({}, { type: STRING, name: STRING, id: STRING }),
}));

export const ProcessSummary = named('ProcessSummary', 'A process as its lifecycle events tell it (alerts, lineage, the process page); its executable and container facts when events named them.', object({
  entity_id: STRING, pid: INTEGER, ppid: INTEGER, parent_entity_id: STRING, executable: STRING, command_line: STRING,
  start: STRING, exit: nullable(STRING), user_name: STRING, user_id: STRING,
}, { hash: ref('ExecutableHash'), file: ref('ExecutableFile'), container: ref('ContainerFields'), orchestrator: ref('OrchestratorFields') }));

export const ExecStep = named('ExecStep', 'One image a process ran (its exec chain), with its digests once hashed.', object({
  executable: STRING, command_line: STRING, at: TIME, event_id: STRING, snapshot: BOOLEAN,
}, { hash: ref('ExecutableHash'), file: ref('ExecutableFile') }));

export const ProcessDetail = named('ProcessDetail', 'One process of a host: summary, exec chain, ancestors (root first), children, events by type, alert ids.', object({
  host_id: STRING, hostname: STRING, process: ref('ProcessSummary'), ancestors: arrayOf(ref('ProcessSummary')), children: arrayOf(ref('ProcessSummary')),
  exec_chain: arrayOf(ref('ExecStep')), events: recordOf(INTEGER), alerts: arrayOf(STRING),
}));

export const HOST_SCHEMAS = [HostHealth, Host, RiskBreakdown, HostDetail, HostList, Agent, AgentList, ProcessTreeNode, ProcessTree, ExecutableHash, ExecutableFile, ContainerFields,
  OrchestratorFields, ProcessSummary, ExecStep, ProcessDetail];
