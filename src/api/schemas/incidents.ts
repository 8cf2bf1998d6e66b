// Response schemas of incidents (src/api/routes/incidents.ts): the list's summaries, an incident with its alert and
// action ids and notes (what changes answer), and the detail view with its alerts, actions and merged timeline.

import { INCIDENT_STATUSES } from '../../stores/incidents/types.ts';
import { arrayOf, BOOLEAN, enumOf, INTEGER, named, nullable, object, ref, STRING, TIME, type Schema } from './common.ts';
import { irActionProperties } from './response.ts';

const incidentProperties: Record<string, Schema> = {
  id: STRING, title: STRING, title_set: { ...BOOLEAN, description: 'someone set the title; until then it follows the alerts' },
  status: enumOf(INCIDENT_STATUSES), severity: ref('Severity'), computed_severity: ref('Severity'), severity_override: nullable(ref('Severity')),
  assignee: nullable(STRING), disposition: nullable(ref('Disposition')), close_reason: nullable(STRING), closed_at: nullable(TIME),
  closed_by: nullable(STRING), alert_count: INTEGER, host_ids: arrayOf(STRING), first_seen: TIME, last_seen: TIME, created_at: TIME, updated_at: TIME,
};

const recordProperties: Record<string, Schema> = {
  ...incidentProperties, alert_ids: arrayOf(STRING), action_ids: { ...arrayOf(STRING), description: 'response actions linked explicitly' },
  notes: arrayOf(ref('IncidentNote')),
};

export const IncidentNote = named('IncidentNote', 'A note on an incident.', object({ author: STRING, text: STRING, at: TIME }));

export const Incident = named('Incident', 'An incident as the list shows it.', object(incidentProperties));

export const IncidentPage = named('IncidentPage', 'A page of incidents and their total.', object({ incidents: arrayOf(ref('Incident')), next: nullable(STRING), total: INTEGER }));

export const IncidentRecord = named('IncidentRecord', 'An incident with its alert and action ids and notes (what a change answers).', object(recordProperties));

const processRef = nullable(object({ entity_id: nullable(STRING), pid: nullable(INTEGER), executable: nullable(STRING), command_line: nullable(STRING) }));

export const IncidentAlert = named('IncidentAlert', 'An alert of an incident, summarised.', object({
  id: STRING, rule: object({ id: STRING, title: STRING, level: ref('Severity') }), severity: ref('Severity'), status: ref('AlertStatus'), type: STRING,
  host_id: nullable(STRING), hostname: nullable(STRING), process: processRef, first_seen: TIME, last_seen: TIME, occurrences: INTEGER,
  techniques: { ...arrayOf(STRING), description: 'technique ids' },
}));

export const IncidentAction = named('IncidentAction', 'A response action of an incident: linked explicitly, or on one of its hosts within its time window.',
  object({ ...irActionProperties, link: enumOf(['explicit', 'host_window']) }));

export const TimelineEntry = named('TimelineEntry', "One entry of an incident's timeline: an alert, one of its events, or a response action.", {
  anyOf: [
    object({ at: TIME, kind: { const: 'alert' }, alert_id: STRING, title: STRING, severity: ref('Severity'), host_id: nullable(STRING) }),
    object({
      at: TIME, kind: { const: 'event' }, alert_id: STRING, event_id: nullable(STRING), type: nullable(STRING), action: nullable(STRING),
      host_id: nullable(STRING), process: processRef,
    }),
    object({ at: TIME, kind: { const: 'action' }, action_id: STRING, action: STRING, status: STRING, host_id: STRING, requested_by: STRING }),
  ],
});

export const IncidentDetail = named('IncidentDetail', 'An incident with its alerts, response actions and merged timeline.', object({
  ...recordProperties, alerts: arrayOf(ref('IncidentAlert')), actions: arrayOf(ref('IncidentAction')), timeline: arrayOf(ref('TimelineEntry')),
  timeline_truncated: BOOLEAN,
}));

export const IncidentMove = named('IncidentMove', 'The incident after alerts moved, and the incident the removed alerts went to.', object({
  incident: ref('IncidentRecord'), split_into: nullable(STRING),
}));

export const INCIDENT_SCHEMAS = [IncidentNote, Incident, IncidentPage, IncidentRecord, IncidentAlert, IncidentAction, TimelineEntry, IncidentDetail, IncidentMove];
