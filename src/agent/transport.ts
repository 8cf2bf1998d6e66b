// The agent's side of the gRPC protocol: enrolment over server-authenticated TLS, then one mutual-TLS
// bidirectional stream. The agent only dials out; it never listens.

import * as grpc from '@grpc/grpc-js';
import { isIP } from 'node:net';
import { INGEST_SERVER_NAME } from '../pki/server-name.ts';
import { AGENT_SERVICE, MAX_MESSAGE_BYTES } from '../schema/service.ts';
import { decodeEnrollResponse, encodeEnrollRequest, type EnrollRequest, type EnrollResponse } from '../schema/wire.ts';

const AgentClient = grpc.makeGenericClientConstructor(AGENT_SERVICE, 'AgentService');
type Client = InstanceType<typeof AgentClient>;

export interface TlsMaterial {
  caPem: string;
  certPem?: string; // absent before enrolment
  keyPem?: string;
}

/** The host part of HOST:PORT or [V6]:PORT. */
function hostOf(address: string): string {
  const m = /^\[([^\]]+)\]:\d+$/.exec(address) ?? /^([^:]+):\d+$/.exec(address);
  return m ? m[1] : address;
}

export function createClient(address: string, tls: TlsMaterial): Client {
  const creds = grpc.credentials.createSsl(
    Buffer.from(tls.caPem),
    tls.keyPem ? Buffer.from(tls.keyPem) : null,
    tls.certPem ? Buffer.from(tls.certPem) : null,
  );
  return new AgentClient(address, creds, {
    ...(isIP(hostOf(address)) ? { 'grpc.ssl_target_name_override': INGEST_SERVER_NAME } : {}),
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.keepalive_time_ms': 30_000,
    'grpc.initial_reconnect_backoff_ms': 500,
    // No gRPC-level retries: the agent re-sends from its spool itself, and a retrying call keeps a
    // copy of every message written until it commits.
    'grpc.enable_retries': 0,
  });
}

export async function enroll(address: string, caPem: string, req: EnrollRequest, timeoutMs = 15_000): Promise<EnrollResponse> {
  const client = createClient(address, { caPem });
  try {
    const bytes = await new Promise<Buffer>((resolve, reject) => {
      client.makeUnaryRequest(AGENT_SERVICE.Enroll.path, (b: Buffer) => b, (b: Buffer) => b, encodeEnrollRequest(req),
        { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(new Error(`enrolment refused: ${err.details || err.message}`)) : resolve(res!)));
    });
    return decodeEnrollResponse(bytes);
  } finally {
    client.close();
  }
}

/** Opens the event stream; the caller writes encoded AgentMessages and reads ServerMessages. */
export function openStream(client: Client): grpc.ClientDuplexStream<Buffer, Buffer> {
  return client.makeBidiStreamRequest(AGENT_SERVICE.Stream.path, (b: Buffer) => b, (b: Buffer) => b);
}
