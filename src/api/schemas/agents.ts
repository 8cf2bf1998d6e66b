// Response schemas of agent administration (src/api/routes/enrollment.ts, policies.ts, stream.ts): enrolment
// tokens, policies and their acknowledgements, and the live stream's ticket.

import { arrayOf, BOOLEAN, INTEGER, named, nullable, object, OPEN_OBJECT, page, ref, STRING, TIME } from './common.ts';

export const EnrollmentToken = named('EnrollmentToken', 'An enrolment token (never its secret).', object({
  id: STRING, created_at: TIME, expires_at: TIME, max_uses: { ...nullable(INTEGER), description: 'null: unlimited' }, uses: INTEGER, revoked: BOOLEAN,
}));

export const EnrollmentTokenList = named('EnrollmentTokenList', "The tenant's enrolment tokens.", object({ enrollment_tokens: arrayOf(ref('EnrollmentToken')) }));

export const EnrollmentTokenCreated = named('EnrollmentTokenCreated', 'A new enrolment token with its secret (shown this once) and what a new host needs to enrol.', object({
  id: STRING, token: STRING, expires_at: TIME, max_uses: nullable(INTEGER), agent_endpoint: nullable(STRING), ca_pem: nullable(STRING),
  install_command: { ...nullable(STRING), description: 'a shell command that enrols and starts an agent (docs/api.md)' },
}));

const policyProperties = { name: STRING, version: INTEGER, updated_by: STRING, updated_at: TIME };

export const PolicySummary = named('PolicySummary', "A policy's latest version, without its document.", object(policyProperties));

export const Policy = named('Policy', 'A version of a policy with its document.', object({ ...policyProperties, document: OPEN_OBJECT }));

export const PolicyPage = named('PolicyPage', 'A page of policies (latest versions), by name.', page('policies', ref('PolicySummary')));

export const PolicyAcks = named('PolicyAcks', 'Which version of a policy each agent last confirmed applying.', object({
  name: STRING, latest_version: INTEGER,
  agents: arrayOf(object({ agent_id: STRING, version: INTEGER, acked_at: TIME, current: BOOLEAN })),
}));

export const StreamTicket = named('StreamTicket', 'A single-use ticket for GET /stream (EventSource sends no headers).', object({
  ticket: STRING, expires_in: { ...INTEGER, description: 'seconds' },
}));

export const AGENT_SCHEMAS = [EnrollmentToken, EnrollmentTokenList, EnrollmentTokenCreated, PolicySummary, Policy, PolicyPage, PolicyAcks, StreamTicket];
