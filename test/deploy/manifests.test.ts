// The deployment files cannot run here, so this keeps them honest: they parse, every Vigil container runs
// a role that exists, every VIGIL_* variable is a setting the roles know and passes their validation, the
// published ports and probes are the ports the configuration binds, the API's Redis is deployed, and the API
// replicas (several: they share the audit ledger) share their ledger and access-token keys from one Secret.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import { loadRoleConfig, type RoleConfig } from '../../src/cli/role-config.ts';
import { SETTINGS } from '../../src/cli/settings.ts';
import { splitHostPort } from '../../src/server/embedded.ts';

const root = new URL('../../', import.meta.url);
const read = (p: string) => readFileSync(new URL(p, root), 'utf8');
const KNOWN_ENV = new Set([...SETTINGS.map((s) => s.env), 'VIGIL_LOG_LEVEL', 'VIGIL_CONFIG']);
const VIGIL_IMAGE = /^ghcr\.io\/vigil-edr\/vigil:/;

type Env = Record<string, string>;

/** Checks a Vigil container's role and settings; returns its parsed configuration. */
function checkVigilContainer(where: string, role: string, env: Env): RoleConfig {
  assert.ok(existsSync(new URL(`src/cli/commands/${role}.ts`, root)), `${where}: role '${role}' exists`);
  for (const k of Object.keys(env).filter((k) => k.startsWith('VIGIL_'))) assert.ok(KNOWN_ENV.has(k), `${where}: ${k} is a known setting`);
  const c = loadRoleConfig([], env);
  assert.notEqual(c, 'help');
  return c as RoleConfig;
}

const port = (hostPort: string) => splitHostPort(hostPort).port;
/** The host of an API process's Redis (its rate limits are shared only if every replica has one). */
const redisHost = (c: RoleConfig) => new URL(c.redis ?? assert.fail('api without VIGIL_REDIS_URL')).hostname;

test('docker-compose.yml: roles, settings, ports and health checks match the configuration', () => {
  const compose = parse(read('deploy/docker-compose.yml'), { merge: true }) as { services: Record<string, any> };
  const vigil = Object.entries(compose.services).filter(([, s]) => VIGIL_IMAGE.test(s.image ?? ''));
  assert.deepEqual(vigil.map(([, s]) => s.command[0]).sort(), ['api', 'ingest', 'worker', 'worker']);
  const workers = vigil.filter(([, w]) => w.command[0] === 'worker').length;
  for (const [name, s] of vigil) {
    const env = Object.fromEntries(Object.entries(s.environment as Env).map(([k, v]) => [k, String(v).replace(/\$\{[^:}]+:-([^}]*)\}/g, '$1')]));
    const c = checkVigilContainer(name, s.command[0], env);
    assert.match(s.healthcheck.test.join(' '), new RegExp(`127\\.0\\.0\\.1:${port(c.health)}/readyz`), `${name}: health check port`);
    const published = (s.ports ?? []).map((p: string) => Number(p.split(':')[1]));
    if (s.command[0] === 'ingest') assert.deepEqual(published, [port(c.grpc)]);
    if (s.command[0] === 'api') {
      assert.deepEqual(published, [port(c.http)]);
      assert.ok(s.depends_on[redisHost(c)], `${name}: rate limits in the compose file's Redis`);
    }
    if (s.command[0] === 'worker') leasedWorker(name, c, workers);
    for (const dep of Object.keys(s.depends_on)) assert.ok(compose.services[dep], `${name} depends on ${dep}`);
  }
  assert.equal(workers, 2);
});

/** Workers share the partitions under leases: none pinned, and no more workers than partitions. */
function leasedWorker(name: string, c: RoleConfig, workers: number): void {
  assert.equal(c.ownedPartitions, undefined, `${name}: partitions not pinned (leases)`);
  assert.equal(c.workerCount, undefined, `${name}: partitions not pinned (leases)`);
  assert.ok(c.eventPartitions > 1 && workers <= c.eventPartitions, `${name}: ${workers} workers share ${c.eventPartitions} partitions`);
}

/** API replicas (several) write one ledger and accept each other's access tokens: their keys come from one Secret. */
function sharedApiKeys(w: any, c: any, cfg: RoleConfig): void {
  assert.ok(w.spec.replicas >= 2, `${w.metadata.name}: several replicas`);
  const mount = (c.volumeMounts ?? []).find((m: any) => m.mountPath === cfg.pkiDir);
  assert.ok(mount, `${w.metadata.name}: keys mounted at VIGIL_PKI_DIR (${cfg.pkiDir})`);
  const volume = (w.spec.template.spec.volumes ?? []).find((v: any) => v.name === mount.name);
  assert.ok(volume?.secret?.secretName, `${w.metadata.name}: keys from a Secret, the same for every replica`);
  assert.equal((volume.secret.defaultMode ?? 0o644) & 0o077, 0, `${w.metadata.name}: keys readable by their owner only (the loaders refuse others)`);
}

test('Kubernetes manifests: valid documents; roles, settings, ports and probes match the configuration', () => {
  const docs = ['deploy/kubernetes/engines.yaml', 'deploy/kubernetes/vigil.yaml'].flatMap((f) => parseAllDocuments(read(f)).map((d) => {
    assert.deepEqual(d.errors, [], `${f} parses`);
    return d.toJS() as any;
  }));
  for (const d of docs) assert.ok(d.apiVersion && d.kind && d.metadata?.name, `document ${JSON.stringify(d).slice(0, 60)} has apiVersion, kind, name`);
  const byKind = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
  const configMap = byKind('ConfigMap', 'vigil-config').data as Env;
  const secret = byKind('Secret', 'vigil-secrets').stringData as Env;
  const workloads = docs.filter((d) => ['Deployment', 'StatefulSet'].includes(d.kind));
  const roles: string[] = [];
  for (const w of workloads) {
    assert.deepEqual(w.spec.selector.matchLabels, w.spec.template.metadata.labels, `${w.metadata.name}: selector matches pod labels`);
    for (const c of w.spec.template.spec.containers) {
      if (!VIGIL_IMAGE.test(c.image)) continue;
      const own = Object.fromEntries((c.env ?? []).map((e: any) => [e.name, e.value ?? '0'])); // a fieldRef (pod index) stands in as 0
      const cfg = checkVigilContainer(w.metadata.name, c.args[0], { ...configMap, ...secret, ...own });
      roles.push(c.args[0]);
      const ports = Object.fromEntries(c.ports.map((p: any) => [p.name, p.containerPort]));
      assert.equal(ports.health, port(cfg.health), `${w.metadata.name}: health port`);
      assert.equal(c.readinessProbe.httpGet.path, '/readyz');
      assert.equal(c.livenessProbe.httpGet.path, '/healthz');
      assert.ok(ports[c.readinessProbe.httpGet.port], `${w.metadata.name}: probe port is declared`);
      if (c.args[0] === 'ingest') assert.equal(ports.grpc, port(cfg.grpc));
      if (c.args[0] === 'api') {
        assert.equal(ports.http, port(cfg.http));
        assert.ok(byKind('Service', redisHost(cfg)) && byKind('Deployment', redisHost(cfg)), `${w.metadata.name}: rate limits in the manifests' Redis`);
        sharedApiKeys(w, c, cfg);
      }
      if (c.args[0] === 'worker') leasedWorker(w.metadata.name, cfg, w.spec.replicas);
    }
  }
  assert.deepEqual(roles.sort(), ['api', 'ingest', 'worker']);
  for (const svc of docs.filter((d) => d.kind === 'Service')) {
    const target = workloads.find((w) => Object.entries(svc.spec.selector).every(([k, v]) => w.spec.template.metadata.labels[k] === v));
    assert.ok(target, `service ${svc.metadata.name} selects a workload`);
    const declared = target.spec.template.spec.containers.flatMap((c: any) => c.ports.flatMap((p: any) => [p.name, p.containerPort]));
    for (const p of svc.spec.ports) assert.ok(declared.includes(p.targetPort ?? p.port), `service ${svc.metadata.name} port ${p.name}`);
  }
  const nats = byKind('StatefulSet', 'nats');
  assert.equal(nats.spec.replicas, 3);
  assert.match(byKind('ConfigMap', 'nats-config').data['nats.conf'], /jetstream[\s\S]*cluster/);
  assert.equal(configMap.VIGIL_NATS_URL.split(',').length, nats.spec.replicas);
});
