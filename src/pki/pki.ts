// X.509 for agent identity (mTLS): the server's certificate authority (created in the data directory at
// first start), the server's TLS certificate, agent key pairs and CSRs, CSR signing at enrolment, and
// verification of a presented agent certificate. ECDSA P-256 throughout, via @peculiar/x509 on WebCrypto.

import 'reflect-metadata'; // required by @peculiar/x509's dependency injection
import * as x509 from '@peculiar/x509';
import { webcrypto, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { INGEST_SERVER_NAME } from './server-name.ts';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[1]);
const subtle = webcrypto.subtle;
const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface KeyPairPem { keyPem: string; certPem: string }
export interface CertificateAuthority { key: CryptoKey; cert: x509.X509Certificate; certPem: string }
export interface AgentIdentity { agentId: string; tenantId: string; serial: string; notAfter: Date }

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

function fromPem(pem: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64'));
}

export async function generateKeyPair(): Promise<CryptoKeyPair> {
  return subtle.generateKey(EC, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  return toPem(await subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

export async function privateKeyFromPem(pem: string): Promise<CryptoKey> {
  return subtle.importKey('pkcs8', fromPem(pem), EC, true, ['sign']);
}

function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] & 0x3f) | 0x40; // positive, and no leading zero that DER would strip
  return b.toString('hex');
}

/** Loads the CA from `dir` (ca.pem, ca-key.pem), creating it on first use. */
export async function loadOrCreateCa(dir: string, name = 'Vigil agent CA'): Promise<CertificateAuthority> {
  const certPath = join(dir, 'ca.pem');
  const keyPath = join(dir, 'ca-key.pem');
  if (existsSync(certPath) && existsSync(keyPath)) {
    const certPem = readFileSync(certPath, 'utf8');
    return { key: await privateKeyFromPem(readFileSync(keyPath, 'utf8')), cert: new x509.X509Certificate(certPem), certPem };
  }
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3650 * DAY_MS),
    keys,
    signingAlgorithm: SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const certPem = cert.toString('pem') + '\n';
  writeSecret(keyPath, await privateKeyToPem(keys.privateKey));
  writeFileSync(certPath, certPem);
  return { key: keys.privateKey, cert, certPem };
}

/** A TLS server certificate for the given DNS names and IP addresses (and INGEST_SERVER_NAME), signed by the CA. */
export async function issueServerCertificate(ca: CertificateAuthority, hostNames: string[]): Promise<KeyPairPem> {
  const names = [...new Set([...hostNames, INGEST_SERVER_NAME])];
  const keys = await generateKeyPair();
  const isIp = (n: string) => /^[\d.]+$/.test(n) || n.includes(':');
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${names[0] ?? 'vigil-server'}`,
    issuer: ca.cert.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 825 * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: ca.key,
    signingAlgorithm: SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names.map((n) => ({ type: isIp(n) ? 'ip' : 'dns', value: n }))),
    ],
  });
  return { keyPem: await privateKeyToPem(keys.privateKey), certPem: cert.toString('pem') + '\n' };
}

/** An agent's certificate signing request (the agent keeps the private key). */
export async function createCsr(keys: CryptoKeyPair, hostname: string): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${hostname.replace(/[,=+<>#;"\\]/g, '_')}`,
    keys,
    signingAlgorithm: SIGN,
  });
  return csr.toString('pem') + '\n';
}

/** Signs an agent's CSR (after checking its proof of possession); identity comes from the server. */
export async function signAgentCsr(ca: CertificateAuthority, csrPem: string, agentId: string, tenantId: string, days: number): Promise<{ certPem: string; serial: string; notAfter: Date }> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new Error(`invalid CSR: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!(await csr.verify())) throw new Error('invalid CSR: signature does not match its public key');
  const sn = serial();
  const notAfter = new Date(Date.now() + days * DAY_MS);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: sn,
    subject: `CN=${agentId}, O=${tenantId}`,
    issuer: ca.cert.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter,
    publicKey: csr.publicKey,
    signingKey: ca.key,
    signingAlgorithm: SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', serial: cert.serialNumber, notAfter };
}

function nameField(cert: x509.X509Certificate, oid: string): string | undefined {
  return cert.subjectName.getField(oid)[0];
}

/** Verifies a client certificate (DER) against the CA and its validity period; returns the agent identity. */
export async function verifyAgentCertificate(ca: CertificateAuthority, der: Uint8Array, now = new Date()): Promise<AgentIdentity> {
  const cert = new x509.X509Certificate(Buffer.from(der));
  if (!(await cert.verify({ publicKey: ca.cert.publicKey, date: now }))) {
    throw new Error('client certificate is not signed by this server\'s CA or is outside its validity period');
  }
  const agentId = nameField(cert, '2.5.4.3');
  const tenantId = nameField(cert, '2.5.4.10');
  if (!agentId || !tenantId) throw new Error('client certificate does not name an agent and tenant');
  return { agentId, tenantId, serial: cert.serialNumber, notAfter: cert.notAfter };
}
