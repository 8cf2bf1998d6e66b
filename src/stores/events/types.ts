// The event store interface: durable event writes, event search, and process nodes for the tree.

import type { VigilEvent } from '../../schema/event.ts';
import type { ProcessNode } from '../../tree/process-tree.ts';
import type { HuntLimits, HuntResult } from './hunt.ts';

export interface EventQuery {
  tenantId: string;
  from?: Date;
  to?: Date;
  hostId?: string;
  types?: string[];
  q?: string; // case-insensitive substring of the command line, executable or file path
  processEntityId?: string; // the events of this process (`process.entity_id`)
  userName?: string; // `user.name`, exact
  filePath?: string; // case-sensitive substring of `file.path`
  sha256?: string; // events of the processes whose image has this SHA-256 (lower-case hex)
  ip?: string; // `source.ip` or `destination.ip`, exact
  limit: number;
  cursor?: string; // opaque, from a previous page's `next`
}

export interface EventPage {
  events: VigilEvent[];
  next: string | null;
}

export interface EventStore {
  init(): Promise<void>;
  /** Writes events and their process nodes; durable when it resolves. Re-inserting an event id is harmless. */
  insert(events: VigilEvent[]): Promise<void>;
  /**
   * The event ids of those of `events` already stored, each matched by its whole key (tenant, host, timestamp to
   * the millisecond, event id): the pipeline asks this for redelivered messages and drops what is stored already.
   */
  storedEventIds(events: VigilEvent[]): Promise<Set<string>>;
  queryEvents(q: EventQuery): Promise<EventPage>;
  /** The processes of a host alive at `at` (merged start and exit rows). */
  processNodes(tenantId: string, hostId: string, at: Date, limit: number): Promise<ProcessNode[]>;
  /** The lifecycle events (fork, start, end) of these processes of a host, oldest first. */
  processEvents(tenantId: string, hostId: string, entityIds: string[]): Promise<VigilEvent[]>;
  /**
   * The lifecycle events of a process of a host and of every ancestor its start recorded (`process.ancestry`),
   * oldest first: a process stored before ancestry was recorded gives its own events only.
   */
  processLineageEvents(tenantId: string, hostId: string, entityId: string): Promise<VigilEvent[]>;
  /** The lifecycle events of the processes whose parent is `parentEntityId`, from `since` on, oldest first. */
  childProcessEvents(tenantId: string, hostId: string, parentEntityId: string, since: Date, limit: number): Promise<VigilEvent[]>;
  /** How many events of each type a process of a host has, from `since` on (up to `until`). */
  processEventCounts(tenantId: string, hostId: string, entityId: string, since: Date, until?: Date): Promise<Record<string, number>>;
  /** Events stored with this id, counted once each: for delivery checks. */
  countDistinct(tenantId: string): Promise<number>;
  /** Events per time bucket since `from` (hourly buckets come from events_hourly). */
  eventCounts(tenantId: string, from: Date, bucketSeconds: number): Promise<{ t: string; count: number }[]>;
  /** Runs a caller's read-only SQL over the allowed tables, seeing only `tenantId`; throws HuntRefusal. */
  hunt(tenantId: string, sql: string, limits: HuntLimits): Promise<HuntResult>;
  close(): Promise<void>;
}
