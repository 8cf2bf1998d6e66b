// A process as the stored events tell it: its summary (the image it ran last), its exec chain (every image it
// ran, in order) and its parent's entity id, folded from its process_fork, process_start and process_end
// events, so that short-lived and exited processes are as exact as live ones. Pure.

import type { ProcessFields, VigilEvent } from '../schema/event.ts';
import type { ProcessSummary } from './live-index.ts';

/** One image a process ran, with its digests once the agent hashed it (on the start event or a later process_hash). */
export interface ExecStep {
  executable: string; command_line: string; at: string; event_id: string; snapshot: boolean;
  hash?: ProcessFields['hash']; file?: ProcessFields['file'];
}

/** A process with its current image's digests and file facts, and its container, when events named them. */
export interface StoredProcess extends ProcessSummary {
  hash?: ProcessFields['hash'];
  file?: ProcessFields['file'];
  container?: VigilEvent['container'];
  orchestrator?: VigilEvent['orchestrator'];
}

export interface ProcessRecordView { process: StoredProcess; exec_chain: ExecStep[] }

/** The process `entityId` from its lifecycle events (any order), or undefined when there are none. */
export function processFromEvents(entityId: string, events: VigilEvent[]): ProcessRecordView | undefined {
  const own = events.filter((e) => e.process?.entity_id === entityId).sort((a, b) => a['@timestamp'].localeCompare(b['@timestamp']));
  if (own.length === 0) return undefined;
  const exec_chain: ExecStep[] = own.filter((e) => e.event.type === 'process_start').map((e) => ({
    executable: e.process!.executable ?? '', command_line: e.process!.command_line ?? '', at: e['@timestamp'], event_id: e.event.id,
    snapshot: e.event.action === 'snapshot',
  }));
  for (const e of own) addExecutableFacts(exec_chain, e);
  const last = own.findLast((e) => e.event.type !== 'process_end') ?? own[own.length - 1];
  const end = own.find((e) => e.event.type === 'process_end');
  const p = last.process!;
  const parentEntity = own.map((e) => e.process?.parent?.entity_id).find((id) => id);
  const image = exec_chain.at(-1);
  const inContainer = own.findLast((e) => e.container?.id);
  return {
    process: {
      ...(image?.hash ? { hash: image.hash } : {}), ...(image?.file ? { file: image.file } : {}),
      ...(inContainer ? { container: inContainer.container } : {}), ...(inContainer?.orchestrator ? { orchestrator: inContainer.orchestrator } : {}),
      entity_id: entityId, pid: p.pid ?? 0, ppid: p.ppid ?? p.parent?.pid ?? 0, parent_entity_id: parentEntity ?? '',
      executable: exec_chain.at(-1)?.executable ?? p.executable ?? '', command_line: exec_chain.at(-1)?.command_line ?? p.command_line ?? '',
      start: p.start ?? own[0]['@timestamp'], exit: end ? end['@timestamp'] : null,
      user_name: own.map((e) => e.user?.name).find((n) => n) ?? '', user_id: last.user?.id ?? '',
    },
    exec_chain,
  };
}

/**
 * The digests and file facts an event gives go to the latest image of the same executable begun by then (a
 * process_hash may come after a later exec, or in the same millisecond as its start).
 */
function addExecutableFacts(chain: ExecStep[], e: VigilEvent): void {
  const p = e.process;
  if (!p?.hash && !p?.file) return;
  const same = chain.filter((s) => s.executable === (p.executable ?? ''));
  const step = same.findLast((s) => s.at <= e['@timestamp']) ?? same[0];
  if (!step) return;
  if (p.hash) step.hash = p.hash;
  if (p.file) step.file = p.file;
}

/** What a child's event says of its parent, for an ancestor whose own events were never stored. */
export function parentFromEvent(e: VigilEvent): ProcessSummary | undefined {
  const parent = e.process?.parent;
  if (!parent?.entity_id) return undefined;
  return {
    entity_id: parent.entity_id, pid: parent.pid ?? 0, ppid: 0, parent_entity_id: '', executable: parent.executable ?? '',
    command_line: parent.command_line ?? '', start: parent.start ?? '', exit: null, user_name: '', user_id: '',
  };
}
