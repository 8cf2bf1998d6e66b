// Response schemas of the audit ledger (src/api/routes/ledger.ts): checkpoints, entries, proofs, verification.
// Hashes are base64.

import { arrayOf, BOOLEAN, INTEGER, named, nullable, object, OPEN_OBJECT, ref, STRING, TIME } from './common.ts';

export const LedgerCheckpoint = named('LedgerCheckpoint', 'The latest signed checkpoint (C2SP signed note).', object({
  origin: STRING, size: INTEGER, root_hash: STRING, checkpoint: { ...STRING, description: 'the signed note' },
}));

export const LedgerEntry = named('LedgerEntry', 'One ledger entry: a recorded call, login, response command or rule change.', object({
  index: INTEGER, timestamp: TIME, actor: STRING, tenant_id: STRING, action: STRING, target: STRING, outcome: STRING, request_id: STRING,
}, { details: OPEN_OBJECT }));

export const LedgerPage = named('LedgerPage', 'A page of entries, the index range it read and how many entries of it are outside the view.', object({
  entries: arrayOf(ref('LedgerEntry')), next: nullable(INTEGER), scope: STRING, range: object({ from: INTEGER, to: INTEGER }), hidden: INTEGER,
}, { scope_reason: STRING, hidden_reason: STRING }));

export const InclusionProof = named('InclusionProof', "An entry's inclusion proof in the tree of `size` entries.", object({
  index: INTEGER, size: INTEGER, leaf_hash: STRING, proof: arrayOf(STRING), root_hash: STRING,
}));

export const ConsistencyProof = named('ConsistencyProof', 'A proof that the tree of `to` entries extends the tree of `from`.', object({
  from: INTEGER, to: INTEGER, proof: arrayOf(STRING),
}));

export const LedgerVerification = named('LedgerVerification', 'A full verification of the ledger.', object(
  { ok: BOOLEAN, size: INTEGER, warnings: arrayOf(STRING) }, { first_bad_index: INTEGER, detail: STRING },
));

export const LEDGER_SCHEMAS = [LedgerCheckpoint, LedgerEntry, LedgerPage, InclusionProof, ConsistencyProof, LedgerVerification];
