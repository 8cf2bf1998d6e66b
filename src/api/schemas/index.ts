// The API's named response schemas, registered once on the Fastify instance (shared by every route, each a
// component of /api/openapi.json under its $id) and referenced by the routes with `ref('Name')`.

import type { FastifyInstance } from 'fastify';
import { AGENT_SCHEMAS } from './agents.ts';
import { ALERT_SCHEMAS } from './alerts.ts';
import { Problem, type NamedSchema } from './common.ts';
import { EVENT_SCHEMAS } from './events.ts';
import { HOST_SCHEMAS } from './hosts.ts';
import { IDENTITY_SCHEMAS } from './identity.ts';
import { INCIDENT_SCHEMAS } from './incidents.ts';
import { LEDGER_SCHEMAS } from './ledger.ts';
import { RESPONSE_SCHEMAS } from './response.ts';
import { RULE_SCHEMAS } from './rules.ts';
import { STATS_SCHEMAS } from './stats.ts';

export { answers, ref } from './common.ts';

export const API_SCHEMAS: readonly NamedSchema[] = [
  Problem, ...HOST_SCHEMAS, ...EVENT_SCHEMAS, ...ALERT_SCHEMAS, ...INCIDENT_SCHEMAS, ...RESPONSE_SCHEMAS, ...RULE_SCHEMAS, ...LEDGER_SCHEMAS,
  ...STATS_SCHEMAS, ...IDENTITY_SCHEMAS, ...AGENT_SCHEMAS,
];

/** Registers every named schema on `app` (before its routes: they are inherited by every plugin below it). */
export function addApiSchemas(app: FastifyInstance): void {
  for (const s of API_SCHEMAS) app.addSchema(s);
}

/**
 * The name a shared schema has in the OpenAPI document: its $id (`Host`, not @fastify/swagger's default `def-0`),
 * so references read `#/components/schemas/Host` and the console's generated types carry the same names.
 */
export const componentName = (json: { $id?: unknown }, _baseUri: unknown, _fragment: unknown, i: number): string =>
  typeof json.$id === 'string' ? json.$id : `def-${i}`;
