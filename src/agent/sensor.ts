// The sensor interface: what every telemetry source on an endpoint (the /proc poller, the eBPF
// sensor client) provides to the agent. Sensors emit raw observations; the agent enriches them
// (process cache, entity ids) and turns them into schema events.

import type { DnsFields, EventType } from '../schema/event.ts';

export type SensorMode = 'ebpf' | 'proc';

/** One thing a sensor saw. Fields follow the event schema's names, flattened to what sensors know. */
export interface Observation {
  type: EventType;
  action?: string; // the precise action when the type's default is not (e.g. setresuid, ptrace_seize)
  timeMs: number; // wall-clock milliseconds since the epoch
  monotonicNs?: bigint; // host-monotonic time, when the sensor has it
  pid: number;
  tid?: number;
  ppid?: number;
  uid?: number;
  gid?: number;
  euid?: number;
  comm?: string;
  cgroupId?: string;
  startTimeMs?: number; // process start time (wall clock), the key of entity ids
  executable?: string;
  executableFromArgs?: boolean; // executable could not be read (no privilege) and is argv[0] instead
  args?: string[];
  argsTruncated?: boolean;
  cwd?: string;
  /** The executed file as the kernel opened it (eBPF exec records) or as /proc showed it. */
  executableFile?: ExecutableFile;
  /** Digests of the executable (`process_hash` observations, from the agent's hasher). */
  hash?: ExecutableHash;
  /** Why a `process_hash` observation has no digests: too_large, unreadable, changed (since the exec). */
  hashOutcome?: 'hashed' | 'too_large' | 'unreadable' | 'changed';
  exitCode?: number;
  signal?: number;
  // network
  transport?: 'tcp' | 'udp';
  family?: 'ipv4' | 'ipv6';
  direction?: 'outbound' | 'inbound';
  srcIp?: string;
  srcPort?: number;
  dstIp?: string;
  dstPort?: number;
  result?: number; // syscall result, 0 or a negative errno
  // files
  path?: string;
  targetPath?: string;
  pathTruncated?: boolean; // a path (file, executable or cwd) was cut to the sensor's bound
  mode?: number;
  ownerUid?: number;
  ownerGid?: number;
  // privilege and tampering
  targetPid?: number; // ptrace target
  newUid?: number;
  newGid?: number;
  moduleName?: string;
  // DNS (a query sent or an answer received at the process's socket, parsed)
  dns?: DnsFields;
}

/** What identifies an executable's contents: the agent hashes a file once per (device, inode, mtime, size). */
export interface ExecutableFile {
  device: number; // st_dev as stat(2) gives it
  inode: number;
  size: number;
  mtimeNs: bigint;
}

/** Hex digests of an executable; absent ones were not computed (too large, unreadable, changed since exec). */
export interface ExecutableHash { sha256?: string; sha1?: string; md5?: string }

export interface SensorHealth {
  mode: SensorMode;
  drops: number; // observations lost inside the sensor (kernel ring buffer, poll gaps)
  restarts: number;
  detail?: string; // why this mode, e.g. "no BTF" or "not root"
}

export interface Sensor {
  readonly mode: SensorMode;
  /** Start observing; `emit` is called for every observation, in order. */
  start(emit: (o: Observation) => void): Promise<void>;
  stop(): Promise<void>;
  health(): SensorHealth;
}
