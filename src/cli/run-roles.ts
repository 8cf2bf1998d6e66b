// The shared body of the role commands (`vigil ingest|worker|api|server`): read the configuration, start
// the roles, print one `ready` line with the bound addresses, drain on SIGTERM/SIGINT.

import { startRoles, type RoleName } from '../server/roles.ts';
import { createLogger } from './log.ts';
import { execveWithNodeFlags, INGEST_NODE_FLAGS, nodeFlagsSetting } from './node-flags.ts';
import { loadRoleConfig, roleUsage } from './role-config.ts';
import { onShutdown } from './shutdown.ts';

const INGEST_FLAGS_ENV = 'VIGIL_INGEST_NODE_FLAGS_APPLIED';

/** An ingest-only process replaces itself once with one under the ingest's V8 flags (INGEST_NODE_FLAGS). */
function reexecIngestUnderItsFlags(roles: RoleName[]): void {
  if (roles.length !== 1 || roles[0] !== 'ingest' || process.env[INGEST_FLAGS_ENV]) return;
  const flags = nodeFlagsSetting(process.env.VIGIL_INGEST_NODE_FLAGS, INGEST_NODE_FLAGS);
  if (flags.length) execveWithNodeFlags(flags, { ...process.env, [INGEST_FLAGS_ENV]: flags.join(' ') });
}

export async function runRoles(command: string, roles: RoleName[], args: string[]): Promise<number> {
  reexecIngestUnderItsFlags(roles);
  let config;
  try {
    config = loadRoleConfig(args);
  } catch (err) {
    console.error(`vigil ${command}: ${(err as Error).message}`);
    return 2;
  }
  if (config === 'help') {
    console.log(roleUsage(command));
    return 0;
  }
  const log = createLogger(`vigil-${command}`);
  const running = await startRoles(roles, config, log);
  console.log(`vigil ${command}: ready ${Object.entries(running.addresses).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  await onShutdown(() => running.stop(), log);
  return 0;
}
