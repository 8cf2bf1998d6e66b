// The console's HTTP client for /api/v1: adds the bearer credential, turns RFC 9457 problem answers into
// ApiError, refreshes an expired user session once and retries, and signs out when the credential is refused.

import { bearerOf, getCredential, setCredential, type Credential } from '../auth/credential.ts';
import type { Problem, Session } from './types.ts';

export type { Problem };

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(status: number, problem: Problem) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
  /** The server has no such route (an endpoint that a later server version adds), not a missing object. */
  get endpointMissing(): boolean { return this.status === 404 && /^no route /.test(this.problem.detail ?? ''); }
}

interface RequestOptions { method?: string; body?: unknown; signal?: AbortSignal }

async function send(path: string, o: RequestOptions, bearer?: string): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  return fetch(`/api/v1${path}`, { method: o.method ?? 'GET', headers, signal: o.signal, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
}

async function parse<T>(res: Response): Promise<T> {
  const text = await res.text();
  let body: unknown = undefined;
  try { body = text ? JSON.parse(text) : undefined; } catch { body = { detail: text.slice(0, 200) }; }
  if (!res.ok) throw new ApiError(res.status, (body ?? {}) as Problem);
  return body as T;
}

/** Calls the API with the current credential; `path` is below /api/v1. */
export async function api<T>(path: string, o: RequestOptions = {}): Promise<T> {
  const cred = getCredential();
  let res = await send(path, o, cred ? bearerOf(cred) : undefined);
  if (res.status === 401 && cred?.kind === 'session') {
    const renewed = await refreshSession(cred).catch(() => null);
    if (renewed) res = await send(path, o, renewed.accessToken);
  }
  if (res.status === 401 && cred) setCredential(null);
  return parse<T>(res);
}

/** A downloaded file, its hash as the server states it, and whether the bytes received have that hash. */
export interface Download { name: string; sha256: string; verified: boolean }

/** Downloads a file below /api/v1 with the current credential, checks its SHA-256 and hands it to the browser. */
export async function downloadFile(path: string): Promise<Download> {
  const cred = getCredential();
  const res = await send(path, {}, cred ? bearerOf(cred) : undefined);
  if (!res.ok) await parse(res);
  const blob = await res.blob();
  const stated = res.headers.get('x-vigil-sha256') ?? '';
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
  const actual = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? 'artifact';
  const url = URL.createObjectURL(blob);
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  a.click();
  URL.revokeObjectURL(url);
  return { name, sha256: actual, verified: stated === actual };
}

function sessionOf(a: Session): Credential & { kind: 'session' } {
  return { kind: 'session', accessToken: a.access_token, refreshToken: a.refresh_token, expiresAt: Date.now() + a.expires_in * 1000, user: a.user };
}

export async function login(email: string, password: string, totp?: string): Promise<void> {
  const a = await parse<Session>(await send('/auth/login', { method: 'POST', body: { email, password, ...(totp ? { totp } : {}) } }));
  setCredential(sessionOf(a));
}

/** Checks an API key against an endpoint every key may read, then signs in with it. */
export async function signInWithApiKey(key: string): Promise<void> {
  await parse<unknown>(await send('/hosts', {}, key));
  setCredential({ kind: 'api-key', key });
}

let refreshing: Promise<Credential & { kind: 'session' }> | null = null;

/** Exchanges the refresh token for a new session; concurrent callers share one request. */
export function refreshSession(cred: Credential & { kind: 'session' }): Promise<Credential & { kind: 'session' }> {
  refreshing ??= send('/auth/refresh', { method: 'POST', body: { refresh_token: cred.refreshToken } })
    .then((res) => parse<Session>(res))
    .then(sessionOf)
    .then((s) => { setCredential(s); return s; })
    .finally(() => { refreshing = null; });
  return refreshing;
}

export async function logout(): Promise<void> {
  const cred = getCredential();
  setCredential(null);
  if (cred?.kind === 'session') await send('/auth/logout', { method: 'POST', body: { refresh_token: cred.refreshToken } }, cred.accessToken).catch(() => undefined);
}
