// Intel core: each feed format parsed from a real-shaped sample (a STIX 2.1 bundle as the specification's examples
// show it, a MISP feed event as MISP exports it, CSV with and without a header), the matcher (hash algorithms,
// IPv4/IPv6 addresses and CIDRs most specific first, subdomains, expiry) and the stage's alerts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { classify } from '../../src/intel/indicators.ts';
import { IndicatorMatcher } from '../../src/intel/matcher.ts';
import { IntelParseError, parseCsv, parseFeed, parseMisp, parseStix } from '../../src/intel/parse.ts';
import { IntelLists } from '../../src/intel/lists.ts';
import { IntelStage, observablesOf } from '../../src/intel/stage.ts';
import type { Alert } from '../../src/detect/alerts.ts';
import type { VigilEvent } from '../../src/schema/event.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const NOW = Date.parse('2026-12-08T00:00:00Z');
const byValue = (xs: { value: string }[]) => xs.map((x) => x.value).sort();

test('STIX 2.1 bundle: hashes, networks, domains, url hosts; revoked and non-STIX patterns skipped; valid_until and confidence kept', () => {
  const r = parseStix(fixture('stix-bundle.json'));
  assert.deepEqual(byValue(r.indicators), ['198.51.100.0/24', '2001:db8:dead::/48', '203.0.113.9',
    '4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f877', 'd41d8cd98f00b204e9800998ecf8427e', 'evil.example.com', 'x4z9arb.cn']);
  assert.equal(r.rejected, 2, 'the revoked indicator and the YARA one');
  const ivy = r.indicators.find((i) => i.type === 'sha256')!;
  assert.equal(ivy.confidence, 85);
  assert.equal(r.indicators.find((i) => i.value === '203.0.113.9')!.expiresAt, Date.parse('2018-01-20T00:00:00Z'));
  assert.throws(() => parseStix('{"type":"x"}'), IntelParseError);
  assert.throws(() => parseStix('not json'), IntelParseError);
});

test('MISP feed event: to_ids attributes and object attributes, composite types, url hosts; confidence from the threat level', () => {
  const r = parseMisp(fixture('misp-event.json'));
  assert.deepEqual(byValue(r.indicators), ['192.0.2.10', '198.51.100.23', 'bad-updates.example.net', 'cdn.bad-updates.example.org',
    'da39a3ee5e6b4b0d3255bfef95601890afd80709', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']);
  assert.equal(r.rejected, 1, 'email-src is no type Vigil matches');
  assert.ok(r.indicators.every((i) => i.confidence === 90));
  assert.equal(parseMisp(JSON.stringify({ response: [JSON.parse(fixture('misp-event.json'))] })).indicators.length, 6);
  assert.throws(() => parseMisp('{"foo": 1}'), IntelParseError);
});

test('CSV with a header, without one, comments, rejected values', () => {
  const h = parseCsv('# feed\ntype,value,confidence,expires\nsha256,4BAC27393BDD9777CE02453256C5577CD02275510B2227F473D03F533924F877,95,\nip,10.1.0.0/16,,2020-01-01T00:00:00Z\ndomain,Bad.Example.,40,\nurl,http://x,,\n');
  assert.deepEqual(h.indicators.map((i) => [i.type, i.value, i.confidence, i.expiresAt]), [
    ['sha256', '4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f877', 95, undefined],
    ['ipv4', '10.1.0.0/16', undefined, Date.parse('2020-01-01T00:00:00Z')],
    ['domain', 'bad.example', 40, undefined]]);
  assert.equal(h.rejected, 1);
  const bare = parseFeed('csv', '1.2.3.4\n2001:DB8::1\nexample.org,domain,70\nnot a value!\n');
  assert.deepEqual(bare.indicators.map((i) => i.value), ['1.2.3.4', '2001:db8::1', 'example.org']);
  assert.equal(bare.rejected, 1);
  assert.equal(classify('10.0.0.5/8')!.value, '10.0.0.0/8');
});

test('matcher: hash algorithms, most specific network first, IPv6 CIDR, mapped IPv4, subdomains, expiry', () => {
  const m = new IndicatorMatcher([
    ...parseStix(fixture('stix-bundle.json')).indicators,
    ...parseCsv('value,type,confidence\n198.51.100.7,ip,99\n127.0.0.1,ip,80\nexample.com,domain,30\n').indicators,
  ], 50);
  assert.equal(m.matchHash('4BAC27393BDD9777CE02453256C5577CD02275510B2227F473D03F533924F877', NOW)?.confidence, 85);
  assert.equal(m.matchHash('d41d8cd98f00b204e9800998ecf8427e', NOW)?.type, 'md5');
  assert.equal(m.matchHash('0'.repeat(64), NOW), undefined);
  assert.deepEqual([m.matchIp('198.51.100.7', NOW)?.value, m.matchIp('198.51.100.7', NOW)?.confidence], ['198.51.100.7', 99]);
  assert.equal(m.matchIp('198.51.100.200', NOW)?.value, '198.51.100.0/24');
  assert.equal(m.matchIp('::ffff:198.51.100.9', NOW)?.value, '198.51.100.0/24');
  assert.equal(m.matchIp('198.51.101.1', NOW), undefined);
  assert.equal(m.matchIp('2001:db8:dead:beef::1', NOW)?.value, '2001:db8:dead::/48');
  assert.equal(m.matchIp('2001:db8:deae::1', NOW), undefined);
  assert.equal(m.matchIp('203.0.113.9', NOW), undefined, 'expired in 2018');
  assert.equal(m.matchIp('203.0.113.9', Date.parse('2017-06-01T00:00:00Z'))?.value, '203.0.113.9');
  assert.equal(m.matchDomain('EVIL.example.com.', NOW)?.value, 'evil.example.com');
  assert.equal(m.matchDomain('a.b.evil.example.com', NOW)?.value, 'evil.example.com');
  assert.equal(m.matchDomain('www.example.com', NOW)?.value, 'example.com');
  assert.equal(m.matchDomain('notevil.example.org', NOW), undefined);
  assert.equal(m.matchDomain('com', NOW), undefined);
  assert.equal(m.size, 10);
});

test('a million indicators: built and matched', () => {
  const inds = [];
  for (let i = 0; i < 1_000_000; i++) {
    const k = i % 3;
    if (k === 0) inds.push({ type: 'sha256' as const, value: (i.toString(16).padStart(8, '0')).repeat(8) });
    else if (k === 1) inds.push({ type: 'ipv4' as const, value: `${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}.7` });
    else inds.push({ type: 'domain' as const, value: `d${i}.example.test` });
  }
  const t0 = performance.now();
  const m = new IndicatorMatcher(inds);
  const built = performance.now() - t0;
  assert.equal(m.size, 1_000_000);
  assert.ok(m.matchHash('000f4239'.repeat(8), NOW)); // 999993 = 0xf4239, k = 0
  assert.ok(m.matchIp('15.66.61.7', NOW)); // 999,997 = 0xf423d
  assert.ok(m.matchDomain('x.d999998.example.test', NOW));
  assert.ok(built < 10_000, `built in ${built} ms`);
  console.log(`1,000,000 indicators built in ${Math.round(built)} ms`);
});

function event(over: Partial<VigilEvent> & Record<string, unknown>): VigilEvent {
  return {
    '@timestamp': '2026-12-08T00:00:00.000Z', agent: { id: 'host-1', tenant_id: 't1' },
    event: { id: crypto.randomUUID(), type: 'network_connection' }, ...over,
  } as VigilEvent;
}

test('the stage: a connection, a DNS answer and a process hash alert with indicator, list, source and confidence', async () => {
  const lists = new IntelLists();
  lists.put({ id: 'l1', tenantId: 't1', name: 'partner feed', source: 'https://feeds.example/c2.json', version: 1,
    matcher: new IndicatorMatcher(parseCsv('value,type,confidence\n127.0.0.66,ip,90\nc2.example.org,domain,60\n' + 'ab'.repeat(32) + ',sha256,\n').indicators) });
  const written: Alert[] = [];
  const stage = new IntelStage({ lists, sink: { write: async (a) => { written.push(...a); } }, now: () => NOW });
  const dns = event({ event: { id: 'e-dns', type: 'network_send' }, dns: { question: { name: 'www.c2.example.org', type: 'A' }, resolved_ip: ['192.0.2.1'], answers: [{ data: 'edge.cdn.example', type: 'CNAME' }, { data: '192.0.2.1', type: 'A' }, { data: '192.0.2.9', type: 'A' }] } });
  // An answer already among resolved_ip is not matched twice.
  assert.deepEqual(observablesOf(dns).map((o) => `${o.kind}:${o.field}:${o.value}`), ['domain:dns.question.name:www.c2.example.org', 'ip:dns.resolved_ip:192.0.2.1',
    'domain:dns.answers.data:edge.cdn.example', 'ip:dns.answers.data:192.0.2.9']);
  await stage.process([
    event({ event: { id: 'e-conn', type: 'network_connection' }, destination: { ip: '127.0.0.66', port: 4444 }, source: { ip: '127.0.0.1', port: 5000 }, process: { pid: 5, entity_id: 'p5', executable: '/usr/bin/nc' } }),
    dns,
    event({ event: { id: 'e-exec', type: 'process_start' }, process: { pid: 6, entity_id: 'p6', hash: { sha256: 'AB'.repeat(32) } } }),
    event({ event: { id: 'e-other', type: 'network_connection' }, destination: { ip: '127.0.0.67' } }),
    event({ event: { id: 'e-tenant', type: 'network_connection' }, agent: { id: 'h', tenant_id: 't2' }, destination: { ip: '127.0.0.66' } }),
    event({ event: { id: 'e-self', type: 'network_connection' }, destination: { ip: '127.0.0.66' }, labels: { 'vigil.self': 'true' } }),
  ]);
  assert.deepEqual(written.map((a) => [a.event_ids[0], a.group_by?.indicator, a.group_by?.field, a.rule.level]), [
    ['e-conn', '127.0.0.66', 'destination.ip', 'high'],
    ['e-dns', 'c2.example.org', 'dns.question.name', 'medium'],
    ['e-exec', 'ab'.repeat(32), 'process.hash.sha256', 'medium'],
  ]);
  const a = written[0];
  assert.equal(a.rule.author, 'https://feeds.example/c2.json');
  assert.deepEqual(a.group_by, { indicator: '127.0.0.66', indicator_type: 'ipv4', list: 'partner feed', list_id: 'l1', source: 'https://feeds.example/c2.json', confidence: '90', field: 'destination.ip', observed: '127.0.0.66' });
  assert.match(a.rule.title, /127\.0\.0\.66.*partner feed/);
  assert.equal(a.host_id, 'host-1');
  assert.equal(a.process_entity_id, 'p5');
});
