// Response schemas of response actions (src/api/routes/response.ts): a command to an agent and its outcome.

import { COMMAND_STATUSES, RESPONSE_ACTIONS } from '../../response/model.ts';
import { ANY_JSON, arrayOf, enumOf, INTEGER, named, nullable, object, OPEN_OBJECT, ref, STRING, TIME, type Schema } from './common.ts';

export const irActionProperties: Record<string, Schema> = {
  id: STRING, host_id: STRING, action: enumOf(RESPONSE_ACTIONS), params: OPEN_OBJECT, status: enumOf(COMMAND_STATUSES),
  requested_by: { ...STRING, description: 'user:<id>, apikey:<id>, or rule:<id> for automated response' },
  reason: { ...nullable(STRING), description: 'why it was asked; null on actions stored before reasons were kept' },
  requested_at: TIME, expires_at: TIME, approved_by: nullable(STRING), updated_at: TIME, deliveries: INTEGER,
  result: { ...ANY_JSON, description: "the agent's report (null until it reports)" }, error: nullable(STRING), artifact_id: nullable(STRING),
};

export const IrAction = named('IrAction', 'A response action: what was asked of which host, by whom, and how it went.', object(irActionProperties));

export const IrActionList = named('IrActionList', 'Response actions, newest first.', object({ actions: arrayOf(ref('IrAction')) }));

export const RESPONSE_SCHEMAS = [IrAction, IrActionList];
