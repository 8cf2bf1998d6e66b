// Test fixtures: an event that sets every field of the wire's Event message, with extreme values (the
// largest uint32, the smallest int32, non-ASCII text, empty strings, a `__proto__` label).

import { singleEventAlertId } from '../../src/detect/alerts.ts';
import type { VigilEvent } from '../../src/schema/event.ts';

export const fullEvent: VigilEvent = {
  '@timestamp': '2026-02-15T12:34:56.789Z',
  agent: { id: 'a1', name: 'n', hostname: 'h', tenant_id: 't1', version: '0.1.0' },
  event: { id: 'e2', type: 'file_rename', category: 'file', action: 'rename', ingested: '2026-02-15T12:34:57.000Z', outcome: 'failure',
    truncated: ['file.path', 'process.executable'], sequence: 2 ** 40 + 3 },
  process: { pid: 4_294_967_295, entity_id: 'x', executable: '/bin/mv', command_line: "mv a 'b c'", name: 'mv', start: '2026-02-15T12:34:56.000Z',
    ppid: 7, tid: 8, args: ['mv', 'a', 'b c', ''], args_truncated: true, working_directory: '/tmp', exit_code: -(2 ** 31), signal: 9,
    hash: { sha256: 'ab', sha1: 'cd', md5: 'ef' }, file: { size: 2 ** 40, inode: '12', device: '2049', mtime: '2026-01-01T00:00:00.000Z' }, parent: { pid: 7, entity_id: 'y', executable: '/bin/sh', command_line: 'sh', name: 'sh', start: '2026-02-15T12:00:00.000Z' } },
  user: { id: '0', name: 'röot ☃ 𝄞', effective: { id: '1000' }, group: { id: '0' } },
  host: { id: 'h1', hostname: 'h', os: { platform: 'linux', kernel: '6.8' } },
  file: { path: '/tmp/a', target_path: '/tmp/b c', mode: '644', owner: '0' },
  source: { ip: '10.0.0.1', port: 0 }, destination: { ip: '::1', port: 443 },
  network: { transport: 'tcp', type: 'ipv6', direction: 'outbound' },
  container: { cgroup_id: '123', id: 'c0ffee', runtime: 'containerd' },
  orchestrator: { type: 'kubernetes', namespace: 'prod', resource: { type: 'pod', name: 'web-0', id: '0b7c2c1e-2d4c-4a43-9a3e-5b1c8f2f0d11' } },
  dns: { type: 'answer', id: '4660', response_code: 'NOERROR', header_flags: ['RD', 'RA'], question: { name: 'example.com', type: 'A' },
    answers: [{ name: 'example.com', type: 'CNAME', ttl: 0, data: 'é.example.net' }, { name: 'é.example.net', type: 'A', ttl: 4_294_967_295, data: '192.0.2.1' }],
    resolved_ip: ['192.0.2.1', '2001:db8::1'] },
  dlp: { policy: 'dlp-default', rule: 'payment_card', kind: 'detector', matches: 3, cells: 0, confidence: 95, excerpts: ['4111 **** **** 1111', 'ü ****'],
    bytes_scanned: 4096, action: 'alert', severity: 'high' },
  threat: { mitre: ['T1059'], gtfobins: ['mv'] },
  labels: { 'event.errno': '13', 'target.pid': '9', 'ü': 'ß', '': 'empty name', 'empty value': '', ['__proto__']: 'own' },
};

/** The id of the alert a single-event rule raises on `e` (per process entity and window, see src/detect/alerts.ts). */
export function alertIdOf(ruleId: string, e: VigilEvent): string {
  return singleEventAlertId(ruleId, {
    tenant: e.agent.tenant_id, host: e.agent.id, processEntity: e.process?.entity_id, eventId: e.event.id, time: Date.parse(e['@timestamp']),
  });
}
