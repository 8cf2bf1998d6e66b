// The generative-AI service catalogue (seed 001's AI-service usage): each service's domains (a name matches itself
// and its subdomains) and published address ranges, from config/ai-services.json or the operator's replacement
// (--ai-services FILE). Lookups by DNS name and by address reuse the indicator matcher. Pure.

import { classify } from './indicators.ts';
import { IndicatorMatcher } from './matcher.ts';

export interface AiService { id: string; name: string; vendor: string; domains: string[]; ranges: string[] }

/** The catalogue's JSON (`{"services": [...]}`) checked: an error names the first bad entry. */
export function parseAiServices(text: string): AiService[] {
  const doc = JSON.parse(text) as { services?: unknown };
  if (!Array.isArray(doc?.services)) throw new Error('AI services: expected {"services": [...]}');
  const ids = new Set<string>();
  return doc.services.map((s: Record<string, unknown>, i: number) => {
    const where = `AI services: entry ${i}`;
    if (typeof s?.id !== 'string' || !/^[a-z0-9-]{1,64}$/.test(s.id) || ids.has(s.id)) throw new Error(`${where}: id must be a unique [a-z0-9-] name`);
    ids.add(s.id);
    const strings = (v: unknown, what: string): string[] => {
      if (v === undefined) return [];
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new Error(`${where} (${s.id}): ${what} must be a list of strings`);
      return v as string[];
    };
    const domains = strings(s.domains, 'domains');
    const ranges = strings(s.ranges, 'ranges');
    for (const d of domains) if (classify(d, 'domain')?.type !== 'domain') throw new Error(`${where} (${s.id}): '${d}' is not a domain`);
    for (const r of ranges) if (!['ipv4', 'ipv6'].includes(classify(r, 'ip')?.type ?? '')) throw new Error(`${where} (${s.id}): '${r}' is not an address range`);
    return { id: s.id, name: typeof s.name === 'string' ? s.name : s.id, vendor: typeof s.vendor === 'string' ? s.vendor : '', domains, ranges };
  });
}

export class AiServiceCatalog {
  readonly services: readonly AiService[];
  private readonly matcher: IndicatorMatcher;
  /** Listed value (normal form) → its service. */
  private readonly byValue = new Map<string, AiService>();

  constructor(services: readonly AiService[]) {
    this.services = services;
    const indicators = services.flatMap((s) => [...s.domains.map((d) => classify(d, 'domain')), ...s.ranges.map((r) => classify(r, 'ip'))]
      .filter((i) => i !== undefined).map((i) => { this.byValue.set(i.value, s); return i; }));
    this.matcher = new IndicatorMatcher(indicators, 100);
  }

  /** The service a DNS name belongs to (itself or a parent domain listed). */
  byName(name: string): AiService | undefined {
    const hit = this.matcher.matchDomain(name, 0);
    return hit && this.byValue.get(hit.value);
  }

  /** The service whose published ranges hold the address. */
  byAddress(address: string): AiService | undefined {
    const hit = this.matcher.matchIp(address, 0);
    return hit && this.byValue.get(hit.value);
  }
}
