// Container context from a process's cgroup (issue 22): the container id and runtime that Docker, containerd,
// CRI-O, Podman, nerdctl and LXC write into cgroup paths, the Kubernetes pod uid the kubelet writes there, and
// the pod's namespace and name from the kubelet's log directories (/var/log/pods/<namespace>_<name>_<uid>),
// as ECS container.* and orchestrator.*. `parseCgroupPath` and `parsePodLogDir` are pure; `ContainerResolver`
// reads /proc/<pid>/cgroup once per cgroup id (bounded cache); for a process already gone (a short-lived process
// is gone before its first event reaches the agent) the cgroup id, which is its directory's inode in the cgroup v2
// file system, is looked up in a map of that file system's directories, read again at most every 5 s.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { VigilEvent } from '../../schema/event.ts';

export interface CgroupContainer {
  id: string;
  runtime?: string; // docker, containerd, cri-o, podman, lxc; absent when the path does not say
  podUid?: string; // Kubernetes pod uid (with dashes)
}

export interface ContainerContext {
  container?: { id: string; runtime?: string };
  orchestrator?: NonNullable<VigilEvent['orchestrator']>;
}

const ID = '[0-9a-f]{64}';
/** `<prefix>-<id>.scope` (systemd cgroup driver) → runtime; conmon's own scopes are not the container. */
const SCOPE = new RegExp(`^(docker|cri-containerd|crio|libpod|nerdctl)-(${ID})\\.scope$`);
const SCOPE_RUNTIME: Record<string, string> = {
  docker: 'docker', 'cri-containerd': 'containerd', crio: 'cri-o', libpod: 'podman', nerdctl: 'containerd',
};
/** Parents of a bare id component (cgroupfs driver) that name the runtime. */
const PARENT_RUNTIME: Record<string, string> = { docker: 'docker', libpod_parent: 'podman', 'machine.slice': 'podman' };
const BARE_ID = new RegExp(`^${ID}$`);
const POD = /(?:^|-)pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;
const LXC = /^lxc\.payload\.(.{1,64})$/;
const MAX_PATH = 4096;

/** The container a cgroup v2 path (as in /proc/<pid>/cgroup, "0::<path>") belongs to, if any. */
export function parseCgroupPath(path: string): CgroupContainer | undefined {
  if (path.length > MAX_PATH) return undefined;
  const parts = path.split('/').filter((p) => p.length > 0);
  let found: CgroupContainer | undefined;
  let podUid: string | undefined;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    const pod = POD.exec(part);
    if (pod) podUid = pod[1].replaceAll('_', '-');
    const scope = SCOPE.exec(part);
    if (scope) found = { id: scope[2], runtime: SCOPE_RUNTIME[scope[1]] };
    else if (BARE_ID.test(part)) found = { id: part, runtime: podUid ? undefined : PARENT_RUNTIME[parts[i - 1] ?? ''] };
    else if (i === 0 && LXC.test(part)) found = { id: LXC.exec(part)![1], runtime: 'lxc' };
    if (found) break; // what lies below a container's cgroup is the container's own
  }
  if (!found) return undefined;
  if (podUid) found.podUid = podUid;
  if (found.runtime === undefined) delete found.runtime;
  return found;
}

/** A kubelet pod log directory name, `<namespace>_<pod name>_<pod uid>`. */
export function parsePodLogDir(name: string): { namespace: string; name: string; uid: string } | undefined {
  const m = /^([a-z0-9-]{1,63})_([a-z0-9.-]{1,253})_([0-9a-f-]{36})$/.exec(name);
  return m ? { namespace: m[1], name: m[2], uid: m[3] } : undefined;
}

/** The ECS fields of a parsed cgroup, with the pod's namespace and name when known. */
export function containerContext(c: CgroupContainer | undefined, pod?: { namespace: string; name: string }): ContainerContext {
  if (!c) return {};
  const out: ContainerContext = { container: c.runtime ? { id: c.id, runtime: c.runtime } : { id: c.id } };
  if (c.podUid) {
    out.orchestrator = { type: 'kubernetes', resource: { type: 'pod', id: c.podUid, ...(pod ? { name: pod.name } : {}) } };
    if (pod) out.orchestrator.namespace = pod.namespace;
  }
  return out;
}

/** The unified (v2) cgroup path of /proc/<pid>/cgroup's text: the "0::" line. */
export function unifiedCgroupPath(text: string): string | undefined {
  for (const line of text.split('\n')) if (line.startsWith('0::')) return line.slice(3);
  return undefined;
}

const CACHE_ENTRIES = 4096;
const RETRY_MS = 1000;
const POD_RESCAN_MS = 30_000;
const CGROUPFS_RESCAN_MS = 5000;
const CGROUPFS_MAX_DIRS = 20_000;
const CGROUPFS_MAX_DEPTH = 12;

/** The cgroup v2 mount: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host. */
function unifiedMount(root: string): string | undefined {
  return [join(root, 'unified'), root].find((m) => existsSync(join(m, 'cgroup.controllers')));
}

/** Directory inode (the cgroup id) → path below the mount, for every cgroup (bounded). */
function cgroupDirectories(mount: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string, rel: string, depth: number): void => {
    if (out.size >= CGROUPFS_MAX_DIRS) return;
    try {
      out.set(String(statSync(dir).ino), rel || '/');
      if (depth >= CGROUPFS_MAX_DEPTH) return;
      for (const d of readdirSync(dir, { withFileTypes: true })) if (d.isDirectory()) walk(join(dir, d.name), `${rel}/${d.name}`, depth + 1);
    } catch { /* removed meanwhile */ }
  };
  walk(mount, '', 0);
  return out;
}

export class ContainerResolver {
  readonly #byCgroup = new Map<string, ContainerContext>();
  readonly #failedAt = new Map<string, number>();
  readonly #proc: string;
  readonly #podLogs: string;
  readonly #cgroupRoot: string;
  #dirs = new Map<string, string>();
  #dirsReadAt = -Infinity;
  #pods = new Map<string, { namespace: string; name: string }>();
  #podsReadAt = -Infinity;

  constructor(opts: { procRoot?: string; podLogDir?: string; cgroupRoot?: string } = {}) {
    this.#proc = opts.procRoot ?? '/proc';
    this.#podLogs = opts.podLogDir ?? '/var/log/pods';
    this.#cgroupRoot = opts.cgroupRoot ?? '/sys/fs/cgroup';
  }

  /** The container context of a cgroup id, read from the cgroup of `pid` (a process in it) on first sight. */
  resolve(cgroupId: string, pid: number): ContainerContext | undefined {
    const known = this.#byCgroup.get(cgroupId);
    if (known) return known;
    const failed = this.#failedAt.get(cgroupId);
    const now = Date.now();
    if (failed !== undefined && now - failed < RETRY_MS) return undefined;
    let path: string | undefined;
    try {
      path = unifiedCgroupPath(readFileSync(`${this.#proc}/${pid}/cgroup`, 'utf8'));
    } catch { /* gone */ }
    path ??= this.#cgroupPath(cgroupId, now);
    if (path === undefined) {
      this.#failedAt.set(cgroupId, now);
      if (this.#failedAt.size > CACHE_ENTRIES) this.#failedAt.clear();
      return undefined;
    }
    this.#failedAt.delete(cgroupId);
    const parsed = parseCgroupPath(path);
    const context = containerContext(parsed, parsed?.podUid ? this.#pod(parsed.podUid) : undefined);
    if (this.#byCgroup.size >= CACHE_ENTRIES) this.#byCgroup.delete(this.#byCgroup.keys().next().value!);
    this.#byCgroup.set(cgroupId, context);
    return context;
  }

  /** The path of a cgroup by its id, from the map of the cgroup file system (read again when stale and missing). */
  #cgroupPath(cgroupId: string, now: number): string | undefined {
    if (!this.#dirs.has(cgroupId) && now - this.#dirsReadAt > CGROUPFS_RESCAN_MS) {
      this.#dirsReadAt = now;
      const mount = unifiedMount(this.#cgroupRoot);
      this.#dirs = mount ? cgroupDirectories(mount) : new Map();
    }
    return this.#dirs.get(cgroupId);
  }

  #pod(uid: string): { namespace: string; name: string } | undefined {
    if (!this.#pods.has(uid) && Date.now() - this.#podsReadAt > POD_RESCAN_MS) {
      this.#podsReadAt = Date.now();
      const pods = new Map<string, { namespace: string; name: string }>();
      try {
        for (const dir of readdirSync(this.#podLogs)) {
          const p = parsePodLogDir(dir);
          if (p) pods.set(p.uid, { namespace: p.namespace, name: p.name });
        }
      } catch { /* not a Kubernetes node */ }
      this.#pods = pods;
    }
    return this.#pods.get(uid);
  }
}
