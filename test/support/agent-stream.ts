// Test helper: opens an agent stream to an ingest endpoint, sends one heartbeat, and tells how the server
// ended the stream (its gRPC error) or that it stayed open for `openMs`.

import type * as grpc from '@grpc/grpc-js';
import { createClient, openStream } from '../../src/agent/transport.ts';
import { encodeAgentMessage } from '../../src/schema/wire.ts';

export function heartbeatStreamOutcome(address: string, tls: { caPem: string; certPem?: string; keyPem?: string }, openMs = 3000): Promise<grpc.ServiceError | 'open'> {
  const client = createClient(address, tls);
  const stream = openStream(client);
  return new Promise((resolve) => {
    const timer = setTimeout(() => { resolve('open'); stream.cancel(); client.close(); }, openMs);
    stream.on('error', (err: grpc.ServiceError) => { clearTimeout(timer); client.close(); resolve(err); });
    stream.on('data', () => {});
    stream.write(encodeAgentMessage({ heartbeat: { version: 'x' } }));
  });
}
