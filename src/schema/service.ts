// The AgentService gRPC definition shared by the agent and the ingest server, with byte-level
// (de)serialisation: messages are decoded by our own code (src/schema/wire.ts), so errors are precise.

import type { ServiceDefinition } from '@grpc/grpc-js';

const raw = (b: Buffer) => b;
const method = (name: string, stream: boolean) => ({
  path: `/vigil.v1.AgentService/${name}`, requestStream: stream, responseStream: stream,
  requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw,
});

export const AGENT_SERVICE = { Enroll: method('Enroll', false), Stream: method('Stream', true) } satisfies ServiceDefinition;

/** Largest gRPC message either side accepts; agents keep their batches well below it. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
