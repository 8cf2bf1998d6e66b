// The structured JSON logger (pino) of every Vigil process; level from VIGIL_LOG_LEVEL (default info).
// No secret reaches a log: secrets are redacted by path wherever they could appear in a logged object, a URL
// (postgres://, redis://, nats://, a webhook) keeps everything but its password and its query values (libpq takes
// `?password=`, webhooks carry tokens there), and errors are serialized with URL passwords and credential-named
// query parameters removed from their message, stack and properties (Node's invalid-URL errors carry the whole URL
// in `input`). The API's request serializer (src/api/server.ts) logs no header and no query
// value.

import { pino, type Logger } from 'pino';

/** Paths of logged objects that hold secrets (one level of nesting, as pino's `*` matches). */
export const REDACT_PATHS = [
  '*.token', '*.keyPem', '*.key_pem', '*.password', '*.enrollmentToken', '*.secret', '*.apiKey', '*.api_key',
  '*.accessToken', '*.access_token', '*.refreshToken', '*.refresh_token', '*.ticket', '*.metricsToken',
  '*.clickhousePassword', '*.authorization', '*.cookie', '*.headers.authorization', '*.headers.cookie',
  'req.headers', 'headers.authorization', 'headers.cookie', 'authorization',
  // Connection URLs: only their password is removed (see censor).
  '*.postgres', '*.redis', '*.nats', '*.url', '*.connectionString', 'postgres', 'redis', 'nats', 'url', 'connectionString',
];

const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*):[^\s/?#@]*@/gi;
const CREDENTIAL_PARAMETER = /([?&;](?:[a-z_]*password|pass|pwd|[a-z_]*token|[a-z_]*secret|[a-z_]*key|ticket|signature|sig|auth|credentials?)=)[^&;\s#"'<>]*/gi;

/**
 * `text` with the password of every URL in it replaced (`scheme://user:[REDACTED]@host`), and the values of
 * query parameters named like credentials (`password=`, `token=`, `access_token=`, `api_key=`, `secret=`, …).
 */
export function withoutUrlPasswords(text: string): string {
  return text.replace(URL_PASSWORD, '$1:[REDACTED]@').replace(CREDENTIAL_PARAMETER, '$1[REDACTED]');
}

/** A URL field's value: without its password and without any query value (webhooks carry tokens there). */
function urlWithoutSecrets(text: string): string {
  const clean = withoutUrlPasswords(text);
  const q = clean.indexOf('?');
  if (q < 0) return clean;
  const end = clean.indexOf('#', q);
  const query = clean.slice(q + 1, end < 0 ? undefined : end).split('&').map((kv) => `${kv.split('=')[0]}=[REDACTED]`).join('&');
  return `${clean.slice(0, q)}?${query}${end < 0 ? '' : clean.slice(end)}`;
}

const URL_PATHS = new Set(['postgres', 'redis', 'nats', 'url', 'connectionString']);

/** A redacted value: a URL keeps all but its password and query values; anything else is replaced whole. */
function censor(value: unknown, path: string[]): unknown {
  if (URL_PATHS.has(path[path.length - 1]) && (typeof value === 'string' || Array.isArray(value))) {
    return typeof value === 'string' ? urlWithoutSecrets(value) : value.map((v) => (typeof v === 'string' ? urlWithoutSecrets(v) : v));
  }
  return '[Redacted]';
}

/** pino's error serializer, then every string in the result without URL passwords. */
export function errorWithoutSecrets(err: Error): unknown {
  const out = pino.stdSerializers.err(err) as unknown as Record<string, unknown>;
  const clean = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return withoutUrlPasswords(v);
    if (depth > 5 || typeof v !== 'object' || v === null) return v;
    if (Array.isArray(v)) return v.map((x) => clean(x, depth + 1));
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clean(x, depth + 1)]));
  };
  return clean(out, 0);
}

/** The logger of a process named `name`, writing JSON lines to `destination` (default standard output). */
export function createLogger(name: string, destination?: pino.DestinationStream): Logger {
  const options = { name, level: process.env.VIGIL_LOG_LEVEL ?? 'info', redact: { paths: REDACT_PATHS, censor }, serializers: { err: errorWithoutSecrets } };
  return destination ? pino(options, destination) : pino(options);
}
