// `vigil ingest`: the ingest of the scale-out deployment (see docs/scaling.md); settings in src/cli/role-config.ts.

import { runRoles } from '../run-roles.ts';

export const summary = 'ingest role: the agent gRPC endpoint, publishing to NATS JetStream';

export const run = (args: string[]): Promise<number> => runRoles('ingest', ['ingest'], args);
