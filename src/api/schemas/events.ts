// Response schemas of stored events (GET /events, the events alerts keep) and hunts (POST /hunt). An event is an
// ECS-shaped document (src/schema/event.ts): its known fields are named, and it stays open (sensors and imports add
// fields: a Windows event's `winlog`, labels), so nothing an event holds is lost in serialisation.

import { ANY_JSON, arrayOf, BOOLEAN, enumOf, INTEGER, named, nullable, NUMBER, object, recordOf, ref, STRING, TIME, type Schema } from './common.ts';
import { EVENT_TYPES } from '../../schema/event.ts';

/** An object with these (optional) members, open to more. */
const openObject = (properties: Record<string, Schema>): Schema => ({ type: 'object', additionalProperties: true, properties });

const parentProperties = { pid: INTEGER, entity_id: STRING, executable: STRING, command_line: STRING, name: STRING, start: STRING };
const endpoint = openObject({ ip: STRING, port: INTEGER });

const eventProperties: Record<string, Schema> = {
  '@timestamp': TIME,
  agent: openObject({ id: STRING, name: STRING, hostname: STRING, tenant_id: STRING, version: STRING }),
  event: openObject({
    id: STRING, type: enumOf(EVENT_TYPES), category: STRING, action: STRING, ingested: STRING, outcome: enumOf(['success', 'failure', 'unknown']),
    truncated: arrayOf(STRING), sequence: NUMBER,
  }),
  process: openObject({
    ...parentProperties, ppid: INTEGER, tid: INTEGER, args: arrayOf(STRING), args_truncated: BOOLEAN, working_directory: STRING,
    exit_code: INTEGER, signal: INTEGER, hash: openObject({ sha256: STRING }), parent: openObject(parentProperties),
  }),
  user: openObject({ id: STRING, name: STRING, effective: openObject({ id: STRING, name: STRING }), group: openObject({ id: STRING, name: STRING }) }),
  host: openObject({ id: STRING, hostname: STRING, os: openObject({ platform: STRING, kernel: STRING }) }),
  file: openObject({ path: STRING, target_path: STRING, mode: STRING, owner: STRING }),
  source: endpoint, destination: endpoint,
  network: openObject({ transport: STRING, type: STRING, direction: STRING }),
  container: openObject({ cgroup_id: STRING }),
  dlp: openObject({ rule: STRING, matches: INTEGER }),
  threat: openObject({ mitre: arrayOf(STRING), gtfobins: arrayOf(STRING) }),
  winlog: openObject({}),
  labels: recordOf(STRING),
};

export const Event = named('Event', 'A stored event (ECS-shaped, src/schema/event.ts); open to fields beyond those named.',
  { type: 'object', additionalProperties: true, required: ['@timestamp', 'agent', 'event'], properties: eventProperties });

export const EventRecord = named('EventRecord', 'An event as an alert keeps it: an event of the store, or a normalised imported record.',
  openObject(eventProperties));

export const EventPage = named('EventPage', 'A page of events, newest first.', object({ events: arrayOf(ref('Event')), next: nullable(STRING) }));

export const HuntResult = named('HuntResult', 'A hunt: column names and rows in column order.', object({
  columns: arrayOf(STRING), rows: arrayOf(arrayOf(ANY_JSON)), elapsed_ms: NUMBER, truncated: BOOLEAN,
}));

export const EVENT_SCHEMAS = [Event, EventRecord, EventPage, HuntResult];
