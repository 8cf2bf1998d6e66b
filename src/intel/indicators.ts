// Threat-intelligence indicators: their kinds (file hashes, IP addresses and networks, domains), the normal form of
// each value (lower-case hex, canonical addresses, lower-case domains without a trailing dot) and the address
// arithmetic the matcher needs (IPv4 as a 32-bit number, IPv6 as 16 bytes). Pure: no `node:net` here.

export const INDICATOR_TYPES = ['sha256', 'sha1', 'md5', 'ipv4', 'ipv6', 'domain'] as const;
export type IndicatorType = (typeof INDICATOR_TYPES)[number];

export interface Indicator {
  type: IndicatorType;
  /** Normal form (hashes lower-case hex, IPv4 dotted and masked); a network carries its prefix (`10.0.0.0/8`, `2001:db8::/32`). */
  value: string;
  /** 0–100 (absent: the list's default). */
  confidence?: number;
  /** Epoch ms after which it no longer matches. */
  expiresAt?: number;
}

const HEX_LENGTHS: Record<number, IndicatorType> = { 64: 'sha256', 40: 'sha1', 32: 'md5' };
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Whether `s` is all hex digits. */
export function isHex(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) | 32;
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** Dotted-quad IPv4 → unsigned 32-bit number, or undefined (one pass over the characters: the matcher's hot path). */
export function ipv4ToNumber(s: string): number | undefined {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return undefined;
    } else if (c === 46 && digits > 0 && dots < 3) {
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else return undefined;
  }
  return dots === 3 && digits > 0 ? n * 256 + part : undefined;
}

export const numberToIpv4 = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/** An IPv6 address (with `::`, an embedded IPv4 tail, a zone dropped) → 16 bytes, or undefined. */
export function ipv6ToBytes(s: string): Uint8Array | undefined {
  const addr = s.split('%')[0].toLowerCase();
  if (!addr.includes(':')) return undefined;
  const halves = addr.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    const parts = h.split(':');
    for (const [i, p] of parts.entries()) {
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = ipv4ToNumber(p);
        if (v4 === undefined) return undefined;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else if (/^[0-9a-f]{1,4}$/.test(p)) out.push(Number.parseInt(p, 16));
      else return undefined;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const all = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => { bytes[2 * i] = g >>> 8; bytes[2 * i + 1] = g & 255; });
  return bytes;
}

/** 16 bytes → full lower-case hex (the matcher's IPv6 key). */
export const bytesToHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** The first `prefix` bits of the address, the rest zeroed. */
export function maskIpv6(b: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, prefix - 8 * i));
    out[i] = bits === 0 ? 0 : b[i] & (0xff << (8 - bits));
  }
  return out;
}

/** IPv4 mask of a prefix length as an unsigned number. */
export const ipv4Mask = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as IPv4; other text unchanged. */
export function unmapIpv4(s: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(s);
  return m ? m[1] : s;
}

/** A domain name in normal form (lower case, no trailing dot), or undefined when it is not one (a single label, e.g. localhost, is not). */
export function normalDomain(s: string): string | undefined {
  const d = s.trim().toLowerCase().replace(/\.$/, '');
  return DOMAIN.test(d) && d.includes('.') && !/^\d+(\.\d+){3}$/.test(d) ? d : undefined;
}

/** The indicator `raw` is, by its shape (a hash by its hex length, an address or network, a domain), or undefined. */
export function classify(raw: string, hint?: string): Indicator | undefined {
  const v = raw.trim();
  if (!v) return undefined;
  const typed = hint ? normalType(hint) : undefined;
  if (typed === 'sha256' || typed === 'sha1' || typed === 'md5') return HEX_LENGTHS[v.length] === typed && isHex(v) ? { type: typed, value: v.toLowerCase() } : undefined;
  if (!typed && HEX_LENGTHS[v.length] && isHex(v)) return { type: HEX_LENGTHS[v.length], value: v.toLowerCase() };
  const [addr, prefixText, extra] = v.split('/');
  if (extra === undefined && (prefixText === undefined || /^\d{1,3}$/.test(prefixText))) {
    const prefix = prefixText === undefined ? undefined : Number(prefixText);
    const v4 = ipv4ToNumber(unmapIpv4(addr));
    const address = !typed || typed === 'ipv4' || typed === 'ipv6';
    if (v4 !== undefined && (prefix === undefined || prefix <= 32) && address) {
      const p = prefix ?? 32;
      return { type: 'ipv4', value: p === 32 ? numberToIpv4(v4) : `${numberToIpv4((v4 & ipv4Mask(p)) >>> 0)}/${p}` };
    }
    const v6 = ipv6ToBytes(addr);
    if (v6 && (prefix === undefined || prefix <= 128) && address) {
      return { type: 'ipv6', value: prefix === undefined || prefix === 128 ? addr.toLowerCase() : `${addr.toLowerCase()}/${prefix}` };
    }
  }
  if (typed && typed !== 'domain') return undefined;
  const d = normalDomain(v);
  return d ? { type: 'domain', value: d } : undefined;
}

/** A type name as feeds spell it (`SHA-256`, `ip`, `hostname`, `domain-name`…) → ours; undefined when unknown. */
export function normalType(name: string): IndicatorType | undefined {
  const n = name.trim().toLowerCase().replace(/[^a-z0-9]/g, '');
  if (n === 'sha256' || n === 'md5' || n === 'sha1') return n;
  if (n === 'ipv4' || n === 'ipv4addr' || n === 'ip' || n === 'ipaddress' || n === 'cidr') return 'ipv4';
  if (n === 'ipv6' || n === 'ipv6addr') return 'ipv6';
  if (n === 'domain' || n === 'domainname' || n === 'hostname' || n === 'fqdn') return 'domain';
  return undefined;
}
