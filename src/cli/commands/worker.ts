// `vigil worker`: the worker of the scale-out deployment (see docs/scaling.md); settings in src/cli/role-config.ts.

import { runRoles } from '../run-roles.ts';

export const summary = 'worker role: consumes events from NATS JetStream, stores them in ClickHouse, runs the pipeline';

export const run = (args: string[]): Promise<number> => runRoles('worker', ['worker'], args);
