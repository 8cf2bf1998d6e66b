// Agent enrolment: a fresh key pair and CSR, exchanged with an enrolment token for a client certificate
// signed by the server's CA. The result is the agent's identity (the private key never leaves the host).
// The X.509 code is loaded only when enrolling: an enrolled agent never needs it (it is ~10 MB of memory).

import { hostname as osHostname, platform, release } from 'node:os';
import { enroll } from './transport.ts';

export interface EnrolledIdentity {
  agentId: string;
  tenantId: string;
  certPem: string;
  keyPem: string;
  caPem: string;
}

export interface HostFacts {
  hostname: string;
  os: string;
  kernel: string;
  agentVersion: string;
}

export function localHostFacts(agentVersion: string): HostFacts {
  return { hostname: osHostname(), os: platform(), kernel: release(), agentVersion };
}

export async function enrollWithNewKey(server: string, caPem: string, token: string, host: HostFacts): Promise<EnrolledIdentity> {
  const { createCsr, generateKeyPair, privateKeyToPem } = await import('../pki/pki.ts');
  const keys = await generateKeyPair();
  const res = await enroll(server, caPem, {
    token, csr_pem: await createCsr(keys, host.hostname), hostname: host.hostname,
    os: host.os, kernel: host.kernel, agent_version: host.agentVersion,
  });
  return { agentId: res.agent_id, tenantId: res.tenant_id, certPem: res.certificate_pem, keyPem: await privateKeyToPem(keys.privateKey), caPem: res.ca_pem };
}
