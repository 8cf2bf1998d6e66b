// The web console (web/, built by `npm run build:web` into web/dist) served by the API process at `/`:
// hashed assets with long-lived cache headers, index.html (never cached) for every other non-API GET so
// the single-page app's routes work on reload, and a 503 page that says how to build it when it is missing.

import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST_DIR = fileURLToPath(new URL('../../../web/dist/', import.meta.url));
const IMMUTABLE = 'public, max-age=31536000, immutable';

const NOT_BUILT_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Vigil console not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>The Vigil web console is not built</h1>
<p>This server found no <code>web/dist/index.html</code>. Build the console with <code>npm run build:web</code>
(<code>scripts/install.sh</code> does it) and reload this page. The API at <code>/api/v1</code> works meanwhile.</p>
</body></html>`;

/** Paths that belong to the API or the server, never to the single-page app. */
function isServerPath(url: string): boolean {
  return /^\/(api|metrics|healthz|readyz)(\/|\?|$)/.test(url);
}

export function consoleRoutes(app: FastifyInstance, distDir = DIST_DIR): void {
  app.register(async (scope) => {
    const built = existsSync(join(distDir, 'index.html'));
    const page = (req: FastifyRequest, reply: FastifyReply) => {
      if (isServerPath(req.url)) return reply.callNotFound();
      if (!built) return reply.code(503).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(NOT_BUILT_PAGE);
      return reply.header('cache-control', 'no-cache').sendFile('index.html');
    };
    if (built) {
      await scope.register(fastifyStatic, {
        root: distDir, wildcard: false, index: false, cacheControl: false,
        setHeaders: (reply, path) => { reply.header('cache-control', path.startsWith(join(distDir, 'assets')) ? IMMUTABLE : 'no-cache'); },
      });
    }
    scope.get('/', page);
    scope.get('/*', page);
  });
}
