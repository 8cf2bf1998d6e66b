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

/**
 * V8 flags of an ingest-only process (`vigil ingest`): a young generation of at most 4 MB semi-spaces.
 * With V8's default (up to 16 MB, grown under load) an ingest process could settle where the agents'
 * batch buffers (external memory, freed only by a collection) reached V8's external limit before the
 * young generation filled: a full collection every 1–3 s and almost no scavenges, ≈ 40 % more CPU per
 * event and 5–10 ms pauses on the ack path; with 4 MB the buffers go at each scavenge (docs/scaling.md,
 * "Ingest heap"). Workers keep the default (4 MB cost them ≈ 20 % more CPU). `VIGIL_INGEST_NODE_FLAGS`
 * replaces these (space-separated; `off`: no re-exec).
 */
export const INGEST_NODE_FLAGS = ['--max-semi-space-size=4'];

/**
 * V8 flags of the embedded server (`vigil up`): a young generation of at most 4 MB semi-spaces. With V8's default
 * (16 MB semi-spaces, grown under load) the server's main heap started at 142 MB committed for 57 MB used, and its
 * RSS at 507 MB; with 4 MB, 96 MB committed and 452 MB RSS (docs/deployment.md, "Memory of the embedded server").
 * `VIGIL_UP_NODE_FLAGS` replaces these (space-separated; `off`: no re-exec).
 */
export const UP_NODE_FLAGS = ['--max-semi-space-size=4'];
const UP_FLAGS_ENV = 'VIGIL_UP_NODE_FLAGS_APPLIED';

/** `vigil up` replaces itself once, before loading the server's modules, with one under UP_NODE_FLAGS. */
export function reexecUpUnderItsFlags(): void {
  if (process.env[UP_FLAGS_ENV] !== undefined) return;
  const flags = nodeFlagsSetting(process.env.VIGIL_UP_NODE_FLAGS, UP_NODE_FLAGS);
  if (flags.length) execveWithNodeFlags(flags, { ...process.env, [UP_FLAGS_ENV]: flags.join(' ') });
}
