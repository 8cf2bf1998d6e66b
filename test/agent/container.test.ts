// Container context from cgroup paths (src/agent/enrichment/container.ts): the patterns of Docker, containerd
// (CRI and nerdctl), CRI-O, Podman and LXC under the systemd and cgroupfs drivers, Kubernetes pod uids, the
// kubelet's pod log directories, the ECS fields made of them; and the resolver on a real cgroup of this host
// and on a fake /proc and /var/log/pods.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerContext, ContainerResolver, parseCgroupPath, parsePodLogDir, unifiedCgroupPath } from '../../src/agent/enrichment/container.ts';

const ID = 'a3c2e8f1b4d5a6c7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1';
const UID = '0b7c2c1e-2d4c-4a43-9a3e-5b1c8f2f0d11';

test('container ids and runtimes from cgroup paths', () => {
  const cases: [string, ReturnType<typeof parseCgroupPath>][] = [
    [`/system.slice/docker-${ID}.scope`, { id: ID, runtime: 'docker' }],
    [`/docker/${ID}`, { id: ID, runtime: 'docker' }],
    [`/docker/${ID}/init.scope`, { id: ID, runtime: 'docker' }], // a process in a sub-cgroup of the container
    [`/machine.slice/libpod-${ID}.scope`, { id: ID, runtime: 'podman' }],
    [`/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope/container`, { id: ID, runtime: 'podman' }],
    [`/machine.slice/libpod-conmon-${ID}.scope`, undefined], // conmon, the monitor: not the container
    [`/system.slice/nerdctl-${ID}.scope`, { id: ID, runtime: 'containerd' }],
    [`/default/${ID}`, { id: ID }], // containerd's namespace under cgroupfs: the runtime is not named
    [`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replaceAll('-', '_')}.slice/cri-containerd-${ID}.scope`,
      { id: ID, runtime: 'containerd', podUid: UID }],
    [`/kubepods.slice/kubepods-pod${UID.replaceAll('-', '_')}.slice/crio-${ID}.scope`, { id: ID, runtime: 'cri-o', podUid: UID }],
    [`/kubepods/besteffort/pod${UID}/${ID}`, { id: ID, podUid: UID }],
    [`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID.replaceAll('-', '_')}.slice/docker-${ID}.scope`,
      { id: ID, runtime: 'docker', podUid: UID }],
    ['/lxc.payload.web1/init.scope', { id: 'web1', runtime: 'lxc' }],
    ['/user.slice/user-0.slice/session-3.scope', undefined],
    ['/system.slice/docker.service', undefined],
    ['/', undefined],
    [`/system.slice/docker-${ID.slice(1)}.scope`, undefined], // 63 hex digits
    [`/${'x/'.repeat(3000)}`, undefined], // beyond the bound
  ];
  for (const [path, want] of cases) assert.deepEqual(parseCgroupPath(path), want, path);
});

test('ECS fields: container.id/runtime, orchestrator.* of a pod with its namespace and name from the kubelet', () => {
  assert.deepEqual(containerContext(undefined), {});
  assert.deepEqual(containerContext({ id: ID, runtime: 'docker' }), { container: { id: ID, runtime: 'docker' } });
  assert.deepEqual(containerContext({ id: ID, podUid: UID }, { namespace: 'prod', name: 'web-0' }), {
    container: { id: ID },
    orchestrator: { type: 'kubernetes', namespace: 'prod', resource: { type: 'pod', id: UID, name: 'web-0' } },
  });
  assert.deepEqual(parsePodLogDir(`kube-system_coredns-5d78c9869d-x2x9z_${UID}`), { namespace: 'kube-system', name: 'coredns-5d78c9869d-x2x9z', uid: UID });
  assert.equal(parsePodLogDir('not_a_pod'), undefined);
  assert.equal(unifiedCgroupPath('12:memory:/x\n0::/system.slice/a.service\n'), '/system.slice/a.service');
  assert.equal(unifiedCgroupPath('12:memory:/x\n'), undefined);
});

test('the resolver reads a process cgroup once per cgroup id, and names the pod from the kubelet log directories', () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-cgroup-'));
  try {
    mkdirSync(join(root, 'proc', '42'), { recursive: true });
    writeFileSync(join(root, 'proc', '42', 'cgroup'), `0::/kubepods/burstable/pod${UID}/${ID}\n`);
    mkdirSync(join(root, 'pods', `prod_web-0_${UID}`), { recursive: true });
    const r = new ContainerResolver({ procRoot: join(root, 'proc'), podLogDir: join(root, 'pods'), cgroupRoot: join(root, 'cgroup') });
    const want = { container: { id: ID }, orchestrator: { type: 'kubernetes', namespace: 'prod', resource: { type: 'pod', id: UID, name: 'web-0' } } };
    assert.deepEqual(r.resolve('777', 42), want);
    rmSync(join(root, 'proc', '42'), { recursive: true });
    assert.deepEqual(r.resolve('777', 42), want, 'cached: the process is gone');
    assert.equal(r.resolve('778', 43), undefined, 'a cgroup of a process gone before it was read, not in the cgroup file system');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a process gone before its cgroup was read: the cgroup id is found among the cgroup file system directories', () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-cgroupfs-'));
  try {
    mkdirSync(join(root, 'unified', 'system.slice', `docker-${ID}.scope`), { recursive: true });
    writeFileSync(join(root, 'unified', 'cgroup.controllers'), '');
    const id = String(statSync(join(root, 'unified', 'system.slice', `docker-${ID}.scope`)).ino);
    const r = new ContainerResolver({ procRoot: join(root, 'proc'), podLogDir: join(root, 'pods'), cgroupRoot: root });
    assert.deepEqual(r.resolve(id, 12345), { container: { id: ID, runtime: 'docker' } });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a real cgroup made on this host with a Docker-like name is recognised for a process inside it', { skip: cgroupV2Root() ? undefined : 'no writable cgroup v2 hierarchy' }, () => {
  const base = cgroupV2Root()!;
  const path = join(base, `docker-${ID}.scope`);
  mkdirSync(path);
  try {
    // A shell moves itself into the new cgroup and prints its own /proc/self/cgroup.
    const out = spawnSync('sh', ['-c', `echo $$ > ${path}/cgroup.procs && cat /proc/self/cgroup`], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    const unified = unifiedCgroupPath(out.stdout)!;
    assert.ok(unified.endsWith(`/docker-${ID}.scope`), unified);
    assert.deepEqual(parseCgroupPath(unified), { id: ID, runtime: 'docker' });
  } finally {
    rmdirSync(path); // empty again: the shell has exited
  }
});

/** A cgroup v2 directory this process may create children in (root, unified hierarchy), or undefined. */
function cgroupV2Root(): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const mount of ['/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
    try {
      if (readFileSync(join(mount, 'cgroup.controllers'), 'utf8') !== undefined) {
        const own = unifiedCgroupPath(readFileSync('/proc/self/cgroup', 'utf8')) ?? '/';
        return join(mount, own);
      }
    } catch { /* not v2 here */ }
  }
  return undefined;
}
