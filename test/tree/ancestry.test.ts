// A process start's recorded ancestry: from the starts before it in the batch and the live index, nearest first,
// cut where the index's knowledge ends, bounded, and never looping back to the process itself.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recordAncestry } from '../../src/tree/ancestry.ts';
import { LiveProcessIndex, MAX_ANCESTORS } from '../../src/tree/live-index.ts';
import type { VigilEvent } from '../../src/schema/event.ts';

let n = 0;
function start(entity: string, parent: string | undefined, type: 'process_start' | 'process_fork' | 'process_end' = 'process_start', host = 'h1'): VigilEvent {
  return {
    '@timestamp': new Date(1_700_000_000_000 + ++n).toISOString(),
    agent: { id: host, tenant_id: 't1', hostname: host, version: 'x' },
    event: { id: `ev-${n}`, type, category: 'process' },
    process: { pid: n, entity_id: entity, executable: '/bin/x', start: new Date(1_700_000_000_000).toISOString(), ...(parent ? { parent: { entity_id: parent } } : {}) },
  } as VigilEvent;
}

test('from the index and from earlier starts of the batch, nearest first', () => {
  const idx = new LiveProcessIndex();
  idx.apply([start('init', undefined), start('sshd', 'init'), start('bash', 'sshd')]);
  const batch = [start('sh', 'bash'), start('sh', 'bash', 'process_fork'), start('nc', 'sh'), start('nc', 'sh', 'process_end'), start('other', 'bash', 'process_start', 'h2')];
  recordAncestry(idx, batch);
  assert.deepEqual(batch.map((e) => e.process?.ancestry), [['bash', 'sshd', 'init'], ['bash', 'sshd', 'init'], ['sh', 'bash', 'sshd', 'init'], undefined, ['bash']],
    'an end records nothing; another host does not see this host\'s processes');
});

test('ends where the index knows no more: a parent never observed, or one a new worker has not seen', () => {
  const idx = new LiveProcessIndex();
  const batch = [start('child', 'unknown-parent'), start('grandchild', 'child'), start('orphan', undefined)];
  recordAncestry(idx, batch);
  assert.deepEqual(batch.map((e) => e.process?.ancestry), [['unknown-parent'], ['child', 'unknown-parent'], undefined]);
});

test('bounded at MAX_ANCESTORS, and a loop of entity ids stops before the process itself', () => {
  const idx = new LiveProcessIndex();
  const chain = Array.from({ length: MAX_ANCESTORS + 10 }, (_, i) => start(`p${i}`, i === 0 ? undefined : `p${i - 1}`));
  idx.apply(chain);
  const deep = [start('leaf', `p${MAX_ANCESTORS + 9}`)];
  recordAncestry(idx, deep);
  assert.equal(deep[0].process?.ancestry?.length, MAX_ANCESTORS);
  assert.equal(deep[0].process?.ancestry?.[0], `p${MAX_ANCESTORS + 9}`);
  const loop = [start('a', 'b'), start('b', 'a')];
  recordAncestry(new LiveProcessIndex(), loop);
  assert.deepEqual(loop.map((e) => e.process?.ancestry), [['b'], ['a']], 'b, whose parent a names b as its parent, does not list itself');
  const self = [start('s', 's')];
  recordAncestry(new LiveProcessIndex(), self);
  assert.equal(self[0].process?.ancestry, undefined, 'a process that names itself as its parent records nothing');
});
