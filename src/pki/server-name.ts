// The name every server certificate of a deployment carries besides its host names and addresses. Agents that
// dial an IP address check the certificate against it (TLS sends no server name for an address, RFC 6066); the
// trust itself comes from the deployment's own CA, which issues server certificates only to its servers. Kept
// apart from pki.ts so that the agent can use it without loading the X.509 code.

export const INGEST_SERVER_NAME = 'vigil-ingest';
