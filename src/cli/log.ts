// The structured JSON logger (pino) of every Vigil process; level from VIGIL_LOG_LEVEL (default info).
// Secrets are redacted by path wherever they could appear in a logged object.

import { pino, type Logger } from 'pino';

export function createLogger(name: string): Logger {
  return pino({
    name,
    level: process.env.VIGIL_LOG_LEVEL ?? 'info',
    redact: ['*.token', '*.keyPem', '*.key_pem', '*.password', 'req.headers.authorization', '*.enrollmentToken'],
  });
}
