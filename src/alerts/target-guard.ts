// The SSRF guard of alert sinks: a sink URL (webhook, chat, paging, syslog, SMTP) whose host is, or resolves to, a loopback, unspecified,
// link-local, private (RFC 1918, fc00::/7, 100.64.0.0/10), multicast/reserved or cloud-metadata address is
// refused unless the server allows private targets. Checked when a sink is created (checkWebhookTarget) and at
// every delivery, where the DNS answer the connection uses is itself checked (guardedLookup), so a name that
// changes to an internal address after creation (DNS rebinding included) is still refused; syslog and SMTP
// connect to the address `guardedAddress` checked. The classification is pure; DNS is at the edge.

import { lookup as dnsLookup } from 'node:dns';
import { lookup as dnsLookupAsync } from 'node:dns/promises';
import { BlockList, isIP, isIPv4, type LookupFunction } from 'node:net';

/** Address ranges refused as webhook targets, most specific first: [why, network, prefix, family]. */
const REFUSED: [string, string, number, 'ipv4' | 'ipv6'][] = [
  ['cloud metadata', '169.254.169.254', 32, 'ipv4'], ['cloud metadata', '100.100.100.200', 32, 'ipv4'],
  ['cloud metadata', 'fd00:ec2::254', 128, 'ipv6'],
  ['unspecified', '0.0.0.0', 8, 'ipv4'], ['loopback', '127.0.0.0', 8, 'ipv4'], ['private', '10.0.0.0', 8, 'ipv4'],
  ['private', '172.16.0.0', 12, 'ipv4'], ['private', '192.168.0.0', 16, 'ipv4'], ['shared (carrier-grade NAT)', '100.64.0.0', 10, 'ipv4'],
  ['link-local', '169.254.0.0', 16, 'ipv4'], ['multicast', '224.0.0.0', 4, 'ipv4'], ['reserved', '240.0.0.0', 4, 'ipv4'],
  ['unspecified', '::', 128, 'ipv6'], ['loopback', '::1', 128, 'ipv6'], ['link-local', 'fe80::', 10, 'ipv6'],
  ['unique local (private)', 'fc00::', 7, 'ipv6'], ['multicast', 'ff00::', 8, 'ipv6'],
];

const ranges = REFUSED.map(([why, network, prefix, family]) => {
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return { why, list, family };
});

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d or ::ffff:xxxx:yyyy) as its IPv4 address; others unchanged. */
function unmapped(address: string): string {
  const m = /^::ffff:(.+)$/i.exec(address);
  if (!m) return address;
  if (isIPv4(m[1])) return m[1];
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(m[1]);
  if (!hex) return address;
  const n = (Number.parseInt(hex[1], 16) << 16 | Number.parseInt(hex[2], 16)) >>> 0;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Why `address` may not be a webhook target (e.g. 'loopback'), or undefined for a public address. */
export function refusalOf(address: string): string | undefined {
  const a = unmapped(address);
  const family = isIP(a) === 4 ? 'ipv4' : 'ipv6';
  return ranges.find((r) => r.family === family && r.list.check(a, family))?.why;
}

export class TargetRefusedError extends Error {
  override name = 'TargetRefusedError';
  readonly code = 'ERR_ALERT_SINK_TARGET_REFUSED';
}

function refused(host: string, address: string, why: string): TargetRefusedError {
  const via = host === address ? '' : ` resolves to ${address}, which`;
  return new TargetRefusedError(`sink host ${host}${via} is a ${why} address; private targets need the server option allowPrivateAlertSinks (VIGIL_ALLOW_PRIVATE_ALERT_SINKS=1)`);
}

/** The URL's host when it is an IP address (IPv6 without its brackets), else undefined. */
export function ipLiteralOf(url: URL): string | undefined {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return isIP(host) ? host : undefined;
}

/** The refusal of an IP-literal URL host, or undefined (a public address, or a name to check at resolution). */
export function literalRefusal(url: URL): TargetRefusedError | undefined {
  const literal = ipLiteralOf(url);
  const why = literal && refusalOf(literal);
  return why ? refused(url.hostname, literal, why) : undefined;
}

export type ResolveAll = (host: string) => Promise<{ address: string }[]>;
const resolveAll: ResolveAll = (host) => dnsLookupAsync(host, { all: true });

/** Throws TargetRefusedError when the URL's host is or resolves to a refused address (DNS errors propagate). */
export async function checkWebhookTarget(url: URL, resolve: ResolveAll = resolveAll): Promise<void> {
  const literal = literalRefusal(url);
  if (literal) throw literal;
  if (ipLiteralOf(url)) return;
  for (const { address } of await resolve(url.hostname)) {
    const why = refusalOf(address);
    if (why) throw refused(url.hostname, address, why);
  }
}

/** A DNS lookup for http(s).request that fails with TargetRefusedError when any answer is a refused address. */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0);
    const bad = addresses.find((a) => refusalOf(a.address));
    if (bad) return callback(refused(hostname, bad.address, refusalOf(bad.address)!), '', 0);
    if (options.all) return (callback as unknown as (e: null, all: typeof addresses) => void)(null, addresses);
    return callback(null, addresses[0].address, addresses[0].family);
  });
};

/**
 * The address to connect to for `host` (a name or IP literal): its first DNS answer, refused (TargetRefusedError)
 * when it or any other answer is a refused address, unless private targets are allowed.
 */
export async function guardedAddress(host: string, allowPrivate: boolean, resolve: ResolveAll = resolveAll): Promise<{ address: string; family: 4 | 6 }> {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  const answers = isIP(bare) ? [{ address: bare }] : await resolve(bare);
  if (!answers.length) throw new Error(`sink host ${bare} does not resolve`);
  if (!allowPrivate) {
    const bad = answers.find((a) => refusalOf(a.address));
    if (bad) throw refused(bare, bad.address, refusalOf(bad.address)!);
  }
  return { address: answers[0].address, family: isIPv4(answers[0].address) ? 4 : 6 };
}
