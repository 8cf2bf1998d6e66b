// Threat intelligence at run time, the same in both deployments:
// - the loader (where the pipeline runs: embedded, every worker): every `reloadMs` it compares the lists' versions in
//   the intel store with what it has loaded, parses the content of each new or changed list and swaps its matcher in
//   (hot reload; the pipeline's intel stage reads the tenant's lists at each batch); a deleted list is dropped;
// - the poller (in the API processes): URL lists due for polling are claimed (so two API processes do not both
//   fetch one), fetched through the SSRF guard (src/alerts/target-guard.ts: a loopback, private, link-local or
//   metadata target is refused unless private targets are allowed; no redirects; bounded size and time), parsed to
//   count, and stored as the list's new content; a failure is kept as the list's last error, the content before it
//   stays loaded;
// - the AI-service catalogue (config/ai-services.json, or the operator's file).

import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { guardedLookup, literalRefusal } from '../alerts/target-guard.ts';
import { AiServiceCatalog, parseAiServices } from '../intel/ai-services.ts';
import { IntelLists } from '../intel/lists.ts';
import { IndicatorMatcher } from '../intel/matcher.ts';
import { parseFeed } from '../intel/parse.ts';
import type { SqlIntelStore } from '../stores/intel/sql-intel-store.ts';

export const DEFAULT_INTEL_RELOAD_MS = 2_000;
export const DEFAULT_INTEL_POLL_CHECK_MS = 5_000;
/** Largest feed fetched from a URL. */
export const MAX_FEED_BYTES = 256 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 120_000;

export interface IntelLoader {
  lists: IntelLists;
  /** Loads what changed now (also run every reloadMs). */
  sync(): Promise<void>;
  stop(): void;
}

export function startIntelLoader(store: SqlIntelStore, log: Logger, reloadMs = DEFAULT_INTEL_RELOAD_MS): IntelLoader {
  const lists = new IntelLists();
  let running: Promise<void> | undefined;
  const syncOnce = async () => {
    const versions = await store.versions();
    const present = new Set(versions.map((v) => `${v.tenantId}\u0000${v.id}`));
    for (const k of [...lists.keys()]) if (!present.has(`${k.tenantId}\u0000${k.id}`)) lists.remove(k.tenantId, k.id);
    for (const v of versions) {
      if (lists.version(v.tenantId, v.id) === v.version) continue;
      const l = await store.withContent(v.tenantId, v.id);
      if (!l) continue;
      try {
        const t0 = performance.now();
        const matcher = new IndicatorMatcher(parseFeed(l.format, l.content).indicators, l.defaultConfidence);
        lists.put({ id: l.id, tenantId: l.tenantId, name: l.name, source: l.url ?? 'upload', version: l.version, matcher });
        log.info({ list: l.id, tenant: l.tenantId, indicators: matcher.size, ms: Math.round(performance.now() - t0) }, 'intel list loaded');
      } catch (err) {
        log.error({ err, list: l.id, tenant: l.tenantId }, 'intel list not loaded');
      }
    }
  };
  const sync = () => (running ??= syncOnce().finally(() => { running = undefined; }));
  const timer = setInterval(() => { sync().catch((err: unknown) => log.warn({ err }, 'intel lists not read')); }, reloadMs);
  timer.unref();
  return { lists, sync, stop: () => clearInterval(timer) };
}

/** GET `url`, at most MAX_FEED_BYTES, through the SSRF guard unless private targets are allowed. */
export function fetchFeed(url: URL, allowPrivate: boolean, signal?: AbortSignal): Promise<string> {
  const refused = allowPrivate ? undefined : literalRefusal(url);
  if (refused) return Promise.reject(refused);
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
      method: 'GET', headers: { 'user-agent': 'vigil-intel', accept: '*/*' }, ...(allowPrivate ? {} : { lookup: guardedLookup }),
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(FETCH_TIMEOUT_MS)]) : AbortSignal.timeout(FETCH_TIMEOUT_MS),
    }, (res) => {
      if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) {
        res.resume();
        reject(new Error(`HTTP ${res.statusCode} from ${url.host}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_FEED_BYTES) { req.destroy(new Error(`feed larger than ${MAX_FEED_BYTES} bytes`)); return; }
        chunks.push(c);
      });
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export interface IntelPoller { pollNow(): Promise<void>; stop(): void }

export function startIntelPoller(store: SqlIntelStore, o: { log: Logger; allowPrivate: boolean; checkMs?: number }): IntelPoller {
  const abort = new AbortController();
  let running: Promise<void> | undefined;
  const pollOnce = async () => {
    const now = Date.now();
    for (const l of await store.claimDue(now, now + FETCH_TIMEOUT_MS * 2)) {
      const next = Date.now() + (l.pollSeconds ?? 3600) * 1000;
      try {
        const content = await fetchFeed(new URL(l.url!), o.allowPrivate, abort.signal);
        const parsed = parseFeed(l.format, content);
        await store.loaded(l.tenantId, l.id, { content, indicators: parsed.indicators.length, rejected: parsed.rejected, at: Date.now() }, next);
        o.log.info({ list: l.id, tenant: l.tenantId, indicators: parsed.indicators.length }, 'intel list polled');
      } catch (err) {
        await store.failed(l.tenantId, l.id, (err as Error).message, next);
        o.log.warn({ list: l.id, tenant: l.tenantId, error: (err as Error).message }, 'intel list poll failed');
      }
    }
  };
  const pollNow = () => (running ??= pollOnce().finally(() => { running = undefined; }));
  const timer = setInterval(() => { pollNow().catch((err: unknown) => o.log.warn({ err }, 'intel polling failed')); }, o.checkMs ?? DEFAULT_INTEL_POLL_CHECK_MS);
  timer.unref();
  return { pollNow, stop: () => { clearInterval(timer); abort.abort(); } };
}

/** The shipped catalogue of generative-AI services (Vigil's own data), replaced by --ai-services FILE. */
export const DEFAULT_AI_SERVICES = fileURLToPath(new URL('../../config/ai-services.json', import.meta.url));

/** The AI-service catalogue from `file` (default: the shipped one); a malformed file stops the start with its error. */
export function loadAiServices(file = DEFAULT_AI_SERVICES): AiServiceCatalog {
  return new AiServiceCatalog(parseAiServices(readFileSync(file, 'utf8')));
}
