// `vigil server`: the server of the scale-out deployment (see docs/scaling.md); settings in src/cli/role-config.ts.

import { runRoles } from '../run-roles.ts';

export const summary = 'all server roles in one process on the external engines (NATS, ClickHouse, PostgreSQL)';

export const run = (args: string[]): Promise<number> => runRoles('server', ['ingest', 'worker', 'api'], args);
