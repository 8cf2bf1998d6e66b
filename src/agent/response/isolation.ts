// Host isolation on the agent: the intended state is persisted first (<data-dir>/response/isolation.json), then
// enforced with `nft -f -` (and the previous state persisted again if nft fails, so the file says what is in
// force); at agent start `restore()` enforces the persisted state again (re-applies isolation after a reboot
// flushed the rules, or removes a table a crash left behind after a release). Resolution of the
// management server's name to addresses happens here, once per isolate.

import { spawn } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { isolationScript, releaseScript, type IsolationSpec } from './nftables.ts';

export interface IsolationState {
  isolated: boolean;
  since?: string;
  commandId?: string;
  spec?: IsolationSpec;
}

/** Runs an nft script; resolves with nft's stderr on failure as the error message. */
export type NftRunner = (script: string) => Promise<void>;

export const runNft: NftRunner = (script) => new Promise((resolve, reject) => {
  const child = spawn('nft', ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.on('error', (err) => reject(new Error(`nft could not be run: ${err.message}`)));
  child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`nft failed (exit ${code}): ${stderr.trim().slice(0, 2000)}`))));
  child.stdin.end(script);
});

/** The resolvers of /etc/resolv.conf (the DNS that stays reachable unless configured otherwise). */
export function systemResolvers(text = readResolvConf()): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*nameserver\s+(\S+)/gm)) {
    const addr = m[1].replace(/%.*$/, '');
    if (isIP(addr)) out.push(addr);
  }
  return out;
}

function readResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

/** HOST:PORT (IPv6 in brackets) of the server the agent connects to, as the management endpoint. */
export function parseServerAddress(address: string): { host: string; port: number } {
  let url: URL;
  try {
    url = new URL(`grpc://${address}`);
  } catch {
    throw new Error(`expected HOST:PORT, got '${address}'`);
  }
  if (!url.port) throw new Error(`expected HOST:PORT, got '${address}'`);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) };
}

/** Every address of the management server's host (a literal IP is returned as is). */
export async function resolveManagement(host: string): Promise<string[]> {
  const bare = host.replace(/^\[|\]$/g, '');
  if (isIP(bare)) return [bare];
  const found = await lookup(bare, { all: true });
  return [...new Set(found.map((a) => a.address))];
}

export class IsolationController {
  private readonly path: string;
  private readonly nft: NftRunner;
  private state: IsolationState;

  constructor(dataDir: string, nft: NftRunner = runNft) {
    this.path = join(dataDir, 'response', 'isolation.json');
    this.nft = nft;
    this.state = existsSync(this.path) ? JSON.parse(readFileSync(this.path, 'utf8')) as IsolationState : { isolated: false };
  }

  get current(): IsolationState {
    return this.state;
  }

  async isolate(spec: IsolationSpec, commandId?: string): Promise<IsolationState> {
    const script = isolationScript(spec); // a bad spec throws before anything is persisted
    return this.change({ isolated: true, since: new Date().toISOString(), commandId, spec }, script);
  }

  release(): Promise<IsolationState> {
    return this.change({ isolated: false }, releaseScript());
  }

  /** Persists the intent, enforces it; restores the previous state on the file when enforcement fails. */
  private async change(next: IsolationState, script: string): Promise<IsolationState> {
    const previous = this.state;
    this.persist(next);
    try {
      await this.nft(script);
    } catch (err) {
      this.persist(previous);
      throw err;
    }
    return this.state;
  }

  /** Enforces the persisted state (agent start); nothing to do on a host that was never isolated. */
  async restore(): Promise<IsolationState> {
    const s = this.state;
    if (!existsSync(this.path)) return s;
    await this.nft(s.isolated && s.spec ? isolationScript(s.spec) : releaseScript());
    return s;
  }

  private persist(s: IsolationState): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(s), { mode: 0o600 });
    renameSync(tmp, this.path);
    this.state = s;
  }
}
