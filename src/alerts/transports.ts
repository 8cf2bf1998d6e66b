// How one delivery reaches its sink: HTTP POST (webhook: the body in the sink's format, signed with its secret
// as `x-vigil-signature: sha256=<hex HMAC-SHA256>`; Slack, Teams, PagerDuty Events v2 bodies), syslog RFC 5424 over
// UDP (RFC 5426), TCP (RFC 6587 octet counting) and TLS (RFC 5425, octet counting), e-mail over SMTP (nodemailer:
// STARTTLS required on smtp://, implicit TLS on smtps://, authentication when the sink names a user), and stdout
// (one line per alert). Every network sink passes the SSRF guard (target-guard.ts) on the address it connects to.
// A failure is a DeliveryError that says whether another attempt may succeed. Secrets are never logged.

import { createHmac } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import nodemailer from 'nodemailer';
import { DEFAULT_TEMPLATE, detailLines, factsOf, pagerDutyBody, render, renderTemplate, slackBody, syslog5424, teamsBody, vigilJson, type AlertDoc } from './formats.ts';
import type { AlertSink } from './sink.ts';
import { guardedAddress, guardedLookup, literalRefusal, TargetRefusedError } from './target-guard.ts';

export class DeliveryError extends Error {
  override name = 'DeliveryError';
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super(message);
    this.retryable = retryable;
  }
}

export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Whether an HTTP status is worth another attempt. */
const retryableStatus = (status: number) => status >= 500 || status === 408 || status === 429;

export interface TransportOptions {
  /** Deliver to loopback, private, link-local and metadata addresses too (default false: refused). */
  allowPrivateTargets: boolean;
  timeoutMs: number;
  /** The HOSTNAME of syslog messages (default: this machine's). */
  hostname?: string;
  /** Where stdout sinks write (default process.stdout). */
  stdout?: (line: string) => void;
}

export interface Transports {
  send(sink: AlertSink, alert: AlertDoc, deliveryId: string): Promise<void>;
  /** Closes kept connections (syslog TCP/TLS). */
  close(): Promise<void>;
}

/** The HTTP body of a webhook-like sink. */
export function httpBody(sink: AlertSink, alert: AlertDoc, deliveryId: string): string {
  switch (sink.type) {
    case 'slack': return JSON.stringify(slackBody(alert, sink.template));
    case 'teams': return JSON.stringify(teamsBody(alert, sink.template));
    case 'pagerduty': return JSON.stringify(pagerDutyBody(alert, sink.template, sink.secret ?? ''));
    default:
      return sink.format === 'vigil' || sink.format === 'text' || sink.format === 'cef'
        ? JSON.stringify({ type: 'alert', delivery_id: deliveryId, sink_id: sink.id, alert: vigilJson(alert) })
        : render(sink.format, alert, sink.template);
  }
}

export function createTransports(o: TransportOptions): Transports {
  const streams = new Map<string, { key: string; socket: Promise<Socket> }>();
  const host = o.hostname ?? osHostname();
  const toRetryable = (err: unknown): never => {
    if (err instanceof DeliveryError) throw err;
    if (err instanceof TargetRefusedError) throw new DeliveryError(err.message, false);
    throw new DeliveryError((err as Error).message || String(err), true);
  };

  function post(sink: AlertSink, body: string, deliveryId: string): Promise<void> {
    const url = new URL(sink.url);
    const refused = o.allowPrivateTargets ? undefined : literalRefusal(url);
    if (refused) return Promise.reject(new DeliveryError(refused.message, false));
    const headers: Record<string, string> = {
      'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'vigil-alert-sink', 'x-vigil-delivery': deliveryId,
    };
    if (sink.type === 'webhook' && sink.secret) headers['x-vigil-signature'] = signature(sink.secret, body);
    return new Promise((resolve, reject) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
        method: 'POST', headers, ...(o.allowPrivateTargets ? {} : { lookup: guardedLookup }), signal: AbortSignal.timeout(o.timeoutMs),
      }, (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve();
        // Redirects are not followed (a 3xx could point anywhere): failed for good, like other 4xx answers.
        else reject(new DeliveryError(`HTTP ${status}`, retryableStatus(status)));
      });
      req.on('error', (err) => reject(err instanceof TargetRefusedError ? new DeliveryError(err.message, false)
        : new DeliveryError(err.name === 'TimeoutError' || err.name === 'AbortError' ? `no answer within ${o.timeoutMs} ms` : err.message, true)));
      req.end(body);
    });
  }

  async function connectStream(url: URL, sink: AlertSink): Promise<Socket> {
    const target = await guardedAddress(url.hostname, o.allowPrivateTargets);
    const port = Number(url.port);
    return new Promise<Socket>((resolve, reject) => {
      const s: Socket = url.protocol === 'tls:'
        ? tlsConnect({ host: target.address, port, servername: url.hostname.replace(/^\[(.*)\]$/, '$1'), ...(sink.options.ca_pem ? { ca: sink.options.ca_pem } : {}) }, () => resolve(s))
        : netConnect({ host: target.address, port }, () => resolve(s));
      s.setTimeout(o.timeoutMs, () => s.destroy(new Error(`no connection within ${o.timeoutMs} ms`)));
      s.once('error', reject);
      s.on('error', () => { /* reported by the write that fails; the stream is dropped on close */ });
      s.on('close', () => { if (streams.get(sink.id)?.key === streamKey(sink)) streams.delete(sink.id); });
      s.on('data', () => { /* a syslog peer sends nothing back; ignored */ });
    }).then((s) => { s.setTimeout(0); return s; });
  }

  const streamKey = (sink: AlertSink) => `${sink.url}\u0000${sink.updatedAt}`;

  async function syslogStream(sink: AlertSink, url: URL, message: string): Promise<void> {
    let kept = streams.get(sink.id);
    if (!kept || kept.key !== streamKey(sink)) {
      if (kept) void kept.socket.then((s) => s.destroy(), () => undefined);
      kept = { key: streamKey(sink), socket: connectStream(url, sink) };
      streams.set(sink.id, kept);
    }
    const entry = kept;
    try {
      const s = await entry.socket;
      if (s.destroyed || !s.writable) throw new Error('syslog connection closed');
      const frame = `${Buffer.byteLength(message)} ${message}`; // RFC 6587 octet counting (RFC 5425 frames the same way)
      await new Promise<void>((resolve, reject) => s.write(frame, (err) => (err ? reject(err) : resolve())));
    } catch (err) {
      if (streams.get(sink.id) === entry) streams.delete(sink.id);
      void entry.socket.then((s) => s.destroy(), () => undefined);
      toRetryable(err);
    }
  }

  async function syslogUdp(url: URL, message: string): Promise<void> {
    const target = await guardedAddress(url.hostname, o.allowPrivateTargets).catch(toRetryable);
    const socket = createSocket(target.family === 6 ? 'udp6' : 'udp4');
    try {
      await new Promise<void>((resolve, reject) => socket.send(Buffer.from(message), Number(url.port), target.address, (err) => (err ? reject(err) : resolve())));
    } catch (err) {
      toRetryable(err);
    } finally {
      socket.close();
    }
  }

  async function email(sink: AlertSink, alert: AlertDoc): Promise<void> {
    const url = new URL(sink.url);
    const target = await guardedAddress(url.hostname, o.allowPrivateTargets).catch(toRetryable);
    const secure = url.protocol === 'smtps:';
    const f = factsOf(alert);
    const transport = nodemailer.createTransport({
      host: target.address, port: Number(url.port) || (secure ? 465 : 587), secure, requireTLS: !secure && sink.options.starttls !== false,
      tls: { servername: url.hostname, ...(sink.options.ca_pem ? { ca: sink.options.ca_pem } : {}) },
      ...(sink.options.username ? { auth: { user: sink.options.username, pass: sink.secret ?? '' } } : {}),
      connectionTimeout: o.timeoutMs, greetingTimeout: o.timeoutMs, socketTimeout: o.timeoutMs,
    });
    const line = renderTemplate(sink.template ?? DEFAULT_TEMPLATE, f);
    try {
      await transport.sendMail({
        from: sink.options.from, to: sink.options.to, subject: line.slice(0, 200),
        text: `${line}\n\n${detailLines(f).map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${render('vigil', alert, null)}\n`,
        headers: { 'X-Vigil-Alert': f.alertId },
      });
    } catch (err) {
      const code = (err as { responseCode?: number }).responseCode;
      // 5xx SMTP answers (authentication failed, recipient refused) fail for good; the rest is worth another try.
      throw new DeliveryError((err as Error).message, !(code && code >= 500));
    } finally {
      transport.close();
    }
  }

  return {
    async send(sink, alert, deliveryId) {
      switch (sink.type) {
        case 'stdout':
          (o.stdout ?? ((line: string) => process.stdout.write(`${line}\n`)))(render(sink.format, alert, sink.template));
          return;
        case 'syslog': {
          const url = new URL(sink.url);
          const message = syslog5424(alert, render(sink.format, alert, sink.template), host, new Date());
          return url.protocol === 'udp:' ? syslogUdp(url, message) : syslogStream(sink, url, message);
        }
        case 'email': return email(sink, alert);
        default: return post(sink, httpBody(sink, alert, deliveryId), deliveryId);
      }
    },
    async close() {
      const open = [...streams.values()];
      streams.clear();
      await Promise.all(open.map((e) => e.socket.then((s) => new Promise<void>((r) => s.end(r)), () => undefined)));
    },
  };
}
