// The nftables ruleset of host isolation, generated as text. Pure. It lives in its own table
// (`inet vigil_isolation`, IPv4 and IPv6 alike), so applying and releasing never touch anybody else's rules, and
// both are one atomic `nft -f` transaction. Isolated, a host keeps only: loopback; TCP to and from the
// management server's addresses on its port; DNS (UDP and TCP 53) to the configured resolvers; IPv6 neighbour
// discovery (without it no IPv6 neighbour, the server included, is reachable); on the Vigil server's own host, the
// TCP ports it serves (agents and analysts must still reach it). Everything else, in, out and forwarded, is
// dropped: our base chains drop regardless of what other tables accept.

import { isIP } from 'node:net';

export const ISOLATION_TABLE = 'vigil_isolation';

export interface IsolationSpec {
  /** The management server's IP addresses (v4 and/or v6). */
  managementAddresses: string[];
  managementPort: number;
  /** DNS resolvers that stay reachable. */
  dns: string[];
  /** TCP ports this host serves that stay reachable from anywhere (the server's own ports under `vigil up`). */
  servedPorts?: number[];
}

export class IsolationSpecError extends Error {}

function checkSpec(s: IsolationSpec): void {
  for (const a of [...s.managementAddresses, ...s.dns]) {
    if (!isIP(a)) throw new IsolationSpecError(`not an IP address: '${a}'`);
  }
  for (const port of [s.managementPort, ...(s.servedPorts ?? [])]) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new IsolationSpecError(`not a port: ${port}`);
  }
  if (s.managementAddresses.length === 0) throw new IsolationSpecError('no management address: isolation would cut the agent off');
}

const v4 = (addrs: string[]) => addrs.filter((a) => isIP(a) === 4);
const v6 = (addrs: string[]) => addrs.filter((a) => isIP(a) === 6);
const set = (items: (string | number)[]) => `{ ${items.join(', ')} }`;

/** `accept` rules for traffic with `addrs` as the remote end: `dir` is `saddr` (input) or `daddr` (output). */
function remoteRules(addrs: string[], dir: 'saddr' | 'daddr', match: string): string[] {
  const out: string[] = [];
  if (v4(addrs).length) out.push(`ip ${dir} ${set(v4(addrs))} ${match} accept`);
  if (v6(addrs).length) out.push(`ip6 ${dir} ${set(v6(addrs))} ${match} accept`);
  return out;
}

function chain(name: string, hook: string, rules: string[]): string {
  const body = rules.map((r) => `    ${r}`).join('\n');
  return `  chain ${name} {\n    type filter hook ${hook} priority -200; policy drop;\n${body}${body ? '\n' : ''}  }`;
}

/** The nft script that (re)installs isolation atomically (replacing any earlier isolation table). */
export function isolationScript(s: IsolationSpec): string {
  checkSpec(s);
  const port = s.managementPort;
  const served = s.servedPorts?.length ? set(s.servedPorts) : undefined;
  const input = [
    'iif "lo" accept',
    ...remoteRules(s.managementAddresses, 'saddr', `tcp sport ${port}`),
    ...remoteRules(s.dns, 'saddr', 'udp sport 53'),
    ...remoteRules(s.dns, 'saddr', 'tcp sport 53'),
    'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept',
    ...(served ? [`tcp dport ${served} accept`] : []),
  ];
  const output = [
    'oif "lo" accept',
    ...remoteRules(s.managementAddresses, 'daddr', `tcp dport ${port}`),
    ...remoteRules(s.dns, 'daddr', 'udp dport 53'),
    ...remoteRules(s.dns, 'daddr', 'tcp dport 53'),
    'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept',
    ...(served ? [`tcp sport ${served} accept`] : []),
  ];
  return [
    `table inet ${ISOLATION_TABLE}`,
    `delete table inet ${ISOLATION_TABLE}`,
    `table inet ${ISOLATION_TABLE} {`,
    chain('input', 'input', input),
    chain('output', 'output', output),
    chain('forward', 'forward', []),
    '}',
    '',
  ].join('\n');
}

/** The nft script that removes isolation; harmless when it is not in force. */
export function releaseScript(): string {
  return `table inet ${ISOLATION_TABLE}\ndelete table inet ${ISOLATION_TABLE}\n`;
}
