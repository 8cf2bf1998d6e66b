// Response schemas of stored events (GET /events, the events alerts keep) and hunts (POST /hunt). An event is an
// ECS-shaped document (src/schema/event.ts): its known fields are named, and it stays open (sensors and imports add
// fields: a Windows event's `winlog`, labels), so nothing an event holds is lost in serialisation.

import { ANY_JSON, arrayOf, BOOLEAN, enumOf, INTEGER, named, nullable, NUMBER, object, recordOf, ref, STRING, TIME, type Schema } from './common.ts';
import { EVENT_TYPES } from '../../schema/event.ts';

/** An object with these members (`required` always there, the others when they apply), open to more. */
const openObject = (properties: Record<string, Schema>, required: string[] = []): Schema =>
  ({ type: 'object', additionalProperties: true, ...(required.length ? { required } : {}), properties });

const parentProperties = { pid: INTEGER, entity_id: STRING, executable: STRING, command_line: STRING, name: STRING, start: STRING };
const endpoint = openObject({ ip: STRING, port: INTEGER });

/** An event's members; `stored`: as the event store holds them (agent and event identified), else as an alert keeps a record. */
const eventProperties = (stored: boolean): Record<string, Schema> => ({
  '@timestamp': TIME,
  agent: openObject({ id: STRING, name: STRING, hostname: STRING, tenant_id: STRING, version: STRING }, stored ? ['id', 'tenant_id'] : []),
  event: openObject({
    id: STRING, type: enumOf(EVENT_TYPES), category: STRING, action: STRING, ingested: STRING, outcome: enumOf(['success', 'failure', 'unknown']),
    truncated: arrayOf(STRING), sequence: NUMBER,
  }, stored ? ['id', 'type'] : []),
  process: openObject({
    ...parentProperties, ppid: INTEGER, tid: INTEGER, args: arrayOf(STRING), args_truncated: BOOLEAN, working_directory: STRING,
    exit_code: INTEGER, signal: INTEGER, hash: openObject({ sha256: STRING, sha1: STRING, md5: STRING }),
    file: openObject({ size: NUMBER, inode: STRING, device: STRING, mtime: STRING }), parent: openObject(parentProperties),
    ancestry: { ...arrayOf(STRING), description: "entity ids of the process's ancestors, nearest first, as the server knew them" },
  }),
  user: openObject({ id: STRING, name: STRING, effective: openObject({ id: STRING, name: STRING }), group: openObject({ id: STRING, name: STRING }) }),
  host: openObject({ id: STRING, hostname: STRING, os: openObject({ platform: STRING, kernel: STRING }) }),
  file: openObject({ path: STRING, target_path: STRING, mode: STRING, owner: STRING }),
  source: endpoint, destination: endpoint,
  network: openObject({ transport: STRING, type: STRING, direction: STRING }),
  container: openObject({ cgroup_id: STRING, id: STRING, runtime: STRING }),
  orchestrator: openObject({ type: STRING, namespace: STRING, resource: openObject({ type: STRING, name: STRING, id: STRING }) }),
  dns: openObject({
    type: enumOf(['query', 'answer']), id: STRING, response_code: STRING, header_flags: arrayOf(STRING), question: openObject({ name: STRING, type: STRING }),
    answers: arrayOf(openObject({ name: STRING, type: STRING, ttl: NUMBER, data: STRING })), resolved_ip: arrayOf(STRING),
  }),
  dlp: openObject({ rule: STRING, matches: INTEGER }),
  threat: openObject({ mitre: arrayOf(STRING), gtfobins: arrayOf(STRING) }),
  winlog: openObject({}),
  labels: recordOf(STRING),
});

export const Event = named('Event', 'A stored event (ECS-shaped, src/schema/event.ts); open to fields beyond those named.',
  { type: 'object', additionalProperties: true, required: ['@timestamp', 'agent', 'event'], properties: eventProperties(true) });

export const EventRecord = named('EventRecord', 'An event as an alert keeps it: an event of the store, or a normalised imported record.',
  openObject(eventProperties(false)));

export const EventPage = named('EventPage', 'A page of events, newest first.', object({ events: arrayOf(ref('Event')), next: nullable(STRING) }));

export const HuntResult = named('HuntResult', 'A hunt: column names and rows in column order.', object({
  columns: arrayOf(STRING), rows: arrayOf(arrayOf(ANY_JSON)), elapsed_ms: NUMBER, truncated: BOOLEAN,
}));

export const EVENT_SCHEMAS = [Event, EventRecord, EventPage, HuntResult];
