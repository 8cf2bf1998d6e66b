// The shared body of the role commands (`vigil ingest|worker|api|server`): read the configuration, start
// the roles, print one `ready` line with the bound addresses, drain on SIGTERM/SIGINT.

import { startRoles, type RoleName } from '../server/roles.ts';
import { createLogger } from './log.ts';
import { loadRoleConfig, roleUsage } from './role-config.ts';
import { onShutdown } from './shutdown.ts';

export async function runRoles(command: string, roles: RoleName[], args: string[]): Promise<number> {
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
