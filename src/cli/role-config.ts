// Configuration of the scale-out roles (`vigil ingest|worker|api|server`): the settings that apply to a role in the
// one settings table (src/cli/settings.ts, shared with `vigil up`), plus the roles' own checks (the metrics token's
// length, a worker's partitions from --worker-index/--worker-count).

import type { RoleConfig } from '../server/roles.ts';
import { INGEST_NODE_FLAGS } from './node-flags.ts';
import { loadSettings, settingsUsage } from './settings.ts';

export type { RoleConfig };

export function roleUsage(command: string): string {
  return [settingsUsage(command, 'roles'), '',
    `Environment only: VIGIL_INGEST_NODE_FLAGS, the V8 flags \`vigil ingest\` re-executes itself under (default ${INGEST_NODE_FLAGS.join(' ')}; off: none).`].join('\n');
}

/** Settings from defaults, file, environment and flags; throws with the setting's name on bad values. */
export function loadRoleConfig(args: string[], env: NodeJS.ProcessEnv = process.env): RoleConfig | 'help' {
  const config = loadSettings('roles', args, env);
  if (config === 'help') return 'help';
  // Its value is a secret: the message never repeats it.
  if (typeof config.metricsToken === 'string' && config.metricsToken.trim().length < 16) throw new Error('metrics-token: expected at least 16 characters');
  return withWorkerPartitions(config as RoleConfig);
}

/** --worker-index/--worker-count → the partitions this worker owns (explicit --partitions wins). */
function withWorkerPartitions(c: RoleConfig): RoleConfig {
  if (c.ownedPartitions || c.workerCount === undefined) return c;
  const index = c.workerIndex ?? 0;
  if (c.workerCount < 1 || index >= c.workerCount) throw new Error(`worker-index: ${index} is not below worker-count ${c.workerCount}`);
  if (c.workerCount > c.eventPartitions) throw new Error(`worker-count ${c.workerCount} exceeds event-partitions ${c.eventPartitions}: some workers would idle`);
  return { ...c, ownedPartitions: Array.from({ length: c.eventPartitions }, (_, p) => p).filter((p) => p % c.workerCount! === index) };
}
