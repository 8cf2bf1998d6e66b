// The command lifecycle as a pure state machine:
//   awaiting_approval ─approve→ pending ─deliver→ delivered ─report running→ running ─report→ succeeded | failed
// and from every open state `expire` → expired. Redelivery (after a reconnect) keeps the state; a report may
// skip states (the agent answers a redelivered command with its stored result). Terminal states never change:
// a repeated identical report is a no-op, anything else is refused with the reason.

import type { CommandStatus } from './model.ts';
import { TERMINAL_STATUSES } from './model.ts';

export type LifecycleEvent =
  | { type: 'approve' }
  | { type: 'deliver' }
  | { type: 'report'; status: 'running' | 'succeeded' | 'failed' }
  | { type: 'expire' };

export type Transition =
  | { ok: true; status: CommandStatus; changed: boolean }
  | { ok: false; reason: string };

const OPEN_AFTER_APPROVAL: readonly CommandStatus[] = ['pending', 'delivered', 'running'];

export function isTerminal(s: CommandStatus): boolean {
  return TERMINAL_STATUSES.includes(s);
}

/** Whether a command in this state should be (re)sent to its agent when the agent is connected. */
export function isDeliverable(s: CommandStatus): boolean {
  return OPEN_AFTER_APPROVAL.includes(s);
}

const to = (from: CommandStatus, status: CommandStatus): Transition => ({ ok: true, status, changed: from !== status });
const refuse = (from: CommandStatus, e: LifecycleEvent): Transition =>
  ({ ok: false, reason: `cannot ${e.type}${e.type === 'report' ? ` ${e.status}` : ''} a command that is ${from}` });

export function transition(from: CommandStatus, e: LifecycleEvent): Transition {
  if (isTerminal(from)) {
    return e.type === 'report' && e.status === from ? to(from, from) : refuse(from, e);
  }
  switch (e.type) {
    case 'approve':
      return from === 'awaiting_approval' ? to(from, 'pending') : refuse(from, e);
    case 'deliver':
      if (from === 'pending') return to(from, 'delivered');
      return from === 'delivered' || from === 'running' ? to(from, from) : refuse(from, e);
    case 'report':
      if (from === 'awaiting_approval') return refuse(from, e);
      return e.status === 'running' && from === 'running' ? to(from, from) : to(from, e.status);
    case 'expire':
      return to(from, 'expired');
  }
}
