// Running a command under V8 flags of its own. Node sizes the heap when it starts, so a daemon that needs
// other heap settings replaces itself once, early (process.execve: the same pid, the same open pipes),
// with the flags before the script and the same arguments after it.

/** The flags in `setting` (space-separated) or `defaults` when it is unset; none for `off`. */
export function nodeFlagsSetting(setting: string | undefined, defaults: readonly string[]): string[] {
  if (setting === 'off') return [];
  return setting === undefined ? [...defaults] : setting.split(' ').filter(Boolean);
}

/** Replaces this process with the same command run by the same node with `flags` added and `env`. */
export function execveWithNodeFlags(flags: readonly string[], env: NodeJS.ProcessEnv): void {
  process.execve!(process.execPath, [process.execPath, ...process.execArgv, ...flags, ...process.argv.slice(1)], env);
}
