// Pipeline enrichment: GTFOBins functions on process events (GTFOBins read from ../shared/gtfobins at run time, as
// the server reads its configured directory), and the MITRE techniques of the rules an event matches put on it
// before it is stored (the detection stage's `tag`), the alert then made from the same match, once; and both
// through a real embedded server: the stored events carry threat.mitre and threat.gtfobins.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { functionsOfEntry, GtfobinsIndex } from '../../src/enrich/gtfobins.ts';
import { loadGtfobins } from '../../src/server/gtfobins.ts';
import { loadCompileOptions, loadRuleSources } from '../../src/detect/loader.ts';
import { compileSigma } from '../../src/sigma/parser.ts';
import { DetectionStage } from '../../src/detect/stage.ts';
import { BUILTIN_RULES_DIR } from '../../src/server/detection.ts';
import type { Alert } from '../../src/detect/alerts.ts';
import type { VigilEvent } from '../../src/schema/event.ts';
import { scenarioEvents } from '../incidents/scenario.ts';
import { call, startFixture, type Fixture } from '../api/support.ts';

const GTFOBINS = fileURLToPath(new URL('../../../shared/gtfobins', import.meta.url));
const log = pino({ level: 'silent' });

function ev(type: VigilEvent['event']['type'], executable: string): VigilEvent {
  return { '@timestamp': new Date().toISOString(), agent: { id: 'h', tenant_id: 't' }, event: { id: crypto.randomUUID(), type }, process: { pid: 7, entity_id: 'p7', executable } } as VigilEvent;
}

test('GTFOBins: an entry\'s functions from its front matter; the loaded index by base name', () => {
  assert.deepEqual(functionsOfEntry(readFileSync(`${GTFOBINS}/_gtfobins/nc`, 'utf8')), ['bind-shell', 'download', 'reverse-shell', 'upload']);
  assert.deepEqual(functionsOfEntry('---\nfunctions: {}\n---\n'), []);
  const index = loadGtfobins(GTFOBINS, log);
  assert.ok(index.size > 400, `${index.size} binaries`);
  assert.ok(index.functionsOf('/usr/bin/bash')?.includes('shell'));
  assert.equal(index.functionsOf('/usr/bin/definitely-not-gtfobins'), undefined);
  assert.throws(() => loadGtfobins(fileURLToPath(new URL('.', import.meta.url)), log), /no GTFOBins entry/);
});

test('GTFOBins enrichment: process events only, set on threat.gtfobins', () => {
  const index = new GtfobinsIndex(new Map([['nc', ['reverse-shell', 'upload']]]));
  const start = ev('process_start', '/usr/bin/nc');
  const conn = ev('network_connection', '/usr/bin/nc');
  const other = ev('process_start', '/usr/bin/true');
  index.enrich([start, conn, other]);
  assert.deepEqual(start.threat, { gtfobins: ['reverse-shell', 'upload'] });
  assert.equal(conn.threat, undefined, 'not a process event');
  assert.equal(other.threat, undefined);
});

test('MITRE: tag puts the matched rules\' techniques on the event; process alerts from the same match, matching once', async () => {
  const compiled = compileSigma(loadRuleSources([BUILTIN_RULES_DIR]), loadCompileOptions({}));
  const written: Alert[] = [];
  const stage = new DetectionStage(compiled, { write: async (a) => { written.push(...a); } });
  const events = scenarioEvents(() => ev('process_start', '/bin/true'), Date.now() - 60_000, 'mitre');
  const nc = events.find((e) => e.process?.executable === '/usr/bin/nc')!;
  let matched = 0;
  const detector = (stage as unknown as { detector: { ruleSet: { match: (...a: unknown[]) => unknown } } }).detector;
  const match = detector.ruleSet.match.bind(detector.ruleSet);
  detector.ruleSet.match = (...a: unknown[]) => { matched++; return match(...a); };
  stage.tag(events);
  const tagging = matched;
  assert.deepEqual(nc.threat?.mitre, ['T1059.004', 'T1095']);
  assert.ok(events.filter((e) => e !== nc).every((e) => !e.threat?.mitre), 'only the events a rule matched');
  await stage.process(events);
  assert.equal(matched, tagging, 'process reused the matches tag made');
  const netcat = written.find((a) => a.rule.title === 'Netcat Reverse Shell');
  assert.deepEqual(netcat?.mitre.map((t) => t.id), ['T1059.004', 'T1095']);
  stage.reload(compiled);
  const again = scenarioEvents(() => ev('process_start', '/bin/true'), Date.now() - 30_000, 'mitre-reload');
  stage.tag(again);
  stage.reload(compileSigma(loadRuleSources([BUILTIN_RULES_DIR]), loadCompileOptions({})));
  written.length = 0;
  await stage.process(again);
  assert.ok(written.some((a) => a.rule.title === 'Netcat Reverse Shell'), 'rules reloaded between tag and process: matched again');
});

let f: Fixture;
before(async () => { f = await startFixture({ gtfobinsDir: GTFOBINS }); }, { timeout: 120_000 });
after(async () => { await f?.stop(); });

test('through the embedded server: stored events carry threat.mitre and threat.gtfobins', async () => {
  const agent = f.agents[0];
  const events = scenarioEvents(() => agent.syntheticEvents(1)[0], Date.now() - 60_000, `enrich-${crypto.randomUUID()}`);
  const chain = [0, 1, 2, 6].map((i) => events[i]); // sshd → sshd → bash → nc
  await agent.send(chain);
  const ncId = chain[3].event.id;
  let stored: any;
  for (const end = Date.now() + 30_000; !stored && Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
    const r = await call(f, 'GET', `/events?host=${agent.identity.agentId}&limit=1000`, { token: f.tokens.admin });
    stored = r.body.events?.find((e: any) => e.event.id === ncId);
  }
  assert.ok(stored, 'the nc event stored');
  assert.deepEqual(stored.threat?.mitre, ['T1059.004', 'T1095'], JSON.stringify(stored.threat));
  assert.deepEqual(stored.threat?.gtfobins, ['bind-shell', 'download', 'reverse-shell', 'upload']);
  const bash = (await call(f, 'GET', `/events?host=${agent.identity.agentId}&limit=1000`, { token: f.tokens.admin })).body.events.find((e: any) => e.event.id === chain[2].event.id);
  assert.ok(bash.threat?.gtfobins?.includes('shell'), JSON.stringify(bash.threat));
  assert.equal(bash.threat?.mitre, undefined, 'no rule matched bash');
});
