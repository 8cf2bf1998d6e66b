// The console's names for the Vigil REST API's answers (see docs/console.md for the endpoints). Every shape comes
// from web/src/api/generated.ts, which `npm run gen:api-types` generates from the API's OpenAPI document (the route
// schemas of src/api/schemas/), so these types cannot drift from what the server answers: change a schema,
// regenerate, and the console's type check shows what to adapt. Only names and parts of answers are defined here.

import type * as Api from './generated.ts';

export type {
  Agent, Alert, AlertComment, AlertException, AlertGroup, AlertMatch, AlertPage, AlertRule, AlertStatus, ApiKey, ContainerFields, Disposition, EventRecord,
  EventPage, ExecStep, ExecutableFile, ExecutableHash, HostDetail, HostHealth, HostList, HuntResult, Incident, IncidentAction, IncidentAlert, IncidentDetail,
  IncidentNote, IncidentRecord, IrAction, IrActionList, LedgerCheckpoint, LedgerEntry, LedgerPage, Me, MitreView, OrchestratorFields, Overview, Problem, ProcessSummary,
  ProcessTree, RiskBreakdown, Rule, RuleDetail, RuleList, RuleTestResult, RuleTestScan, Session, Severity, Technique, TimelineEntry, User,
} from './generated.ts';

export type Host = Api.Host;
/** A process of a host's process tree (GET /hosts/{id}/process-tree). */
export type ProcessNode = Api.ProcessTreeNode;
/** A stored event (GET /events, the process pages); ECS-shaped, open to fields beyond those typed. */
export type VigilEvent = Api.Event;
export type EventParent = NonNullable<NonNullable<Api.Event['process']>['parent']>;
export type DnsFields = NonNullable<Api.Event['dns']>;
/** GET /hosts/{id}/processes/{entity_id} */
export type ProcessInfo = Api.ProcessDetail;
/** The process of a process page: its summary with its executable's digests and file, and its container. */
export type StoredProcess = Api.ProcessSummary;
export type Coverage = NonNullable<Api.Rule['coverage']>;
/** The signed-in user of a session (POST /auth/login). */
export type SessionUser = Api.Session['user'];
