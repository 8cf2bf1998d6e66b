// The columns of the event table that analysts filter on (hunting SQL, SQL rules, the console's hunt page), each
// taken from a path of the event: part of the one event dialect, so the console and the event store share this
// list. The store computes them when it inserts (one pass over the object it already has); the DEFAULT
// expression of its DDL (src/stores/events/ddl.ts) fills them from `raw` for rows inserted without them
// (backfills, other writers). Pure data: no imports, safe in the browser.

export interface ExtractedColumn { name: string; type: 'String' | 'LowCardinality(String)' | 'UInt32' | 'UInt16' | 'Array(String)'; path: string[] }

export const EXTRACTED_COLUMNS: ExtractedColumn[] = [
  { name: 'event_category', type: 'LowCardinality(String)', path: ['event', 'category'] },
  { name: 'hostname', type: 'LowCardinality(String)', path: ['agent', 'hostname'] },
  { name: 'process_entity_id', type: 'String', path: ['process', 'entity_id'] },
  { name: 'process_pid', type: 'UInt32', path: ['process', 'pid'] },
  { name: 'process_ppid', type: 'UInt32', path: ['process', 'ppid'] },
  { name: 'process_name', type: 'LowCardinality(String)', path: ['process', 'name'] },
  { name: 'process_executable', type: 'String', path: ['process', 'executable'] },
  { name: 'process_command_line', type: 'String', path: ['process', 'command_line'] },
  { name: 'process_parent_entity_id', type: 'String', path: ['process', 'parent', 'entity_id'] },
  { name: 'process_parent_executable', type: 'String', path: ['process', 'parent', 'executable'] },
  { name: 'user_name', type: 'LowCardinality(String)', path: ['user', 'name'] },
  { name: 'user_id', type: 'LowCardinality(String)', path: ['user', 'id'] },
  { name: 'file_path', type: 'String', path: ['file', 'path'] },
  { name: 'source_ip', type: 'String', path: ['source', 'ip'] },
  { name: 'source_port', type: 'UInt16', path: ['source', 'port'] },
  { name: 'destination_ip', type: 'String', path: ['destination', 'ip'] },
  { name: 'destination_port', type: 'UInt16', path: ['destination', 'port'] },
  { name: 'mitre', type: 'Array(String)', path: ['threat', 'mitre'] },
  { name: 'process_hash_sha256', type: 'String', path: ['process', 'hash', 'sha256'] },
  { name: 'dns_question_name', type: 'String', path: ['dns', 'question', 'name'] },
  { name: 'container_id', type: 'String', path: ['container', 'id'] },
];
