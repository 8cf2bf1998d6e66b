// The exact loss docs/scaling.md states for a worker takeover: correlation windows live in the worker's memory, so
// the new owner of a host's partition starts them afresh. Measured here with two detectors standing for the dead
// worker and its successor, against one detector that sees everything (no takeover): for each kind of window, which
// alerts the takeover delays or loses. Single-event rules lose nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Detector } from '../../src/detect/engine.ts';
import type { Alert } from '../../src/detect/alerts.ts';
import { normalizeRecord } from '../../src/detect/records.ts';
import { compileSigma } from '../../src/sigma/parser.ts';
import { vigilFieldMapper } from '../../src/detect/logsources.ts';

const RULES = `title: login
id: 00000000-0000-4000-8000-0000000000b1
name: login
logsource: { product: linux, category: process_creation }
detection: { sel: { Image|endswith: '/login' }, condition: sel }
---
title: sudo
id: 00000000-0000-4000-8000-0000000000b2
name: sudo
logsource: { product: linux, category: process_creation }
detection: { sel: { Image|endswith: '/sudo' }, condition: sel }
---
title: id
id: 00000000-0000-4000-8000-0000000000b5
name: id_run
logsource: { product: linux, category: process_creation }
detection: { sel: { Image|endswith: '/id' }, condition: sel }
---
title: three logins in a minute
id: 00000000-0000-4000-8000-0000000000b3
name: logins
correlation: { type: event_count, rules: [login], group-by: [User], timespan: 1m, condition: { gte: 3 } }
---
title: login then sudo
id: 00000000-0000-4000-8000-0000000000b4
name: login_sudo
correlation: { type: temporal_ordered, rules: [login, sudo], group-by: [User], timespan: 1m }
`;

function detector(): Detector {
  const r = compileSigma([{ path: 'takeover.yml', text: RULES }], { fieldMapper: vigilFieldMapper });
  assert.deepEqual(r.rejected, []);
  return new Detector(r);
}

let seq = 0;
const ev = (t: number, exe: string) => normalizeRecord({
  '@timestamp': new Date(Date.UTC(2026, 0, 1) + t * 1000).toISOString(), agent: { id: 'a', tenant_id: 't1' }, host: { id: 'h1' },
  event: { id: `e${++seq}`, type: 'process_start' }, process: { executable: exe, pid: 1 }, user: { name: 'alice' },
})!;

/** Correlation alerts (rule ids) of `events` through `d`. */
const correlated = (d: Detector, events: ReturnType<typeof ev>[]): string[] =>
  events.flatMap((e) => d.detect(e, 't1')).filter((a: Alert) => a.rule.type !== 'single').map((a) => a.rule.id);

test('takeover: a window open at the takeover counts only the events after it; single-event rules lose nothing', () => {
  const timeline = [ev(0, '/bin/login'), ev(10, '/bin/login'), /* takeover here */ ev(20, '/bin/login'), ev(25, '/usr/bin/sudo'), ev(30, '/bin/login'), ev(40, '/bin/login')];
  const whole = correlated(detector(), timeline);
  assert.deepEqual(whole, ['00000000-0000-4000-8000-0000000000b3', '00000000-0000-4000-8000-0000000000b4'], 'one worker: the count fires at the third login, the sequence at the sudo');

  const dead = detector();
  const successor = detector();
  const before = correlated(dead, timeline.slice(0, 2));
  const after = correlated(successor, timeline.slice(2));
  assert.deepEqual(before, [], 'the dead worker had not fired yet');
  // The count restarts: the successor's third login is the sixth event (t = 40 s), 20 s later than without the
  // takeover; the sequence still fires, because a login after the takeover (t = 20 s) precedes the sudo.
  assert.deepEqual(after, ['00000000-0000-4000-8000-0000000000b4', '00000000-0000-4000-8000-0000000000b3']);

  const shortTimeline = [ev(100, '/bin/login'), ev(110, '/bin/login'), /* takeover */ ev(120, '/bin/login'), ev(200, '/bin/login')];
  assert.equal(correlated(detector(), shortTimeline).length, 1, 'one worker fires');
  const lost = [...correlated(detector(), shortTimeline.slice(0, 2)), ...correlated(detector(), shortTimeline.slice(2))];
  assert.deepEqual(lost, [], 'with the takeover the alert is lost: the window closed before three logins came after it');

  const single = (d: Detector, events: ReturnType<typeof ev>[]) => events.flatMap((e) => d.detect(e, 't1')).filter((a) => a.rule.type === 'single').length;
  const ids = [ev(300, '/usr/bin/id'), ev(301, '/usr/bin/id')];
  assert.equal(single(detector(), ids), 2);
  assert.equal(single(detector(), ids.slice(0, 1)) + single(detector(), ids.slice(1)), 2, 'single-event rules: the same alerts');
});
