// `vigil api`: the api of the scale-out deployment (see docs/scaling.md); settings in src/cli/role-config.ts.

import { runRoles } from '../run-roles.ts';

export const summary = 'api role: the REST API over PostgreSQL and ClickHouse';

export const run = (args: string[]): Promise<number> => runRoles('api', ['api'], args);
