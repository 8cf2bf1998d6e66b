// Reading a Vigil process's Prometheus histograms in the benchmarks: scrape /metrics before and after a
// phase, then the phase's own quantiles from the bucket counts' difference (bucket upper bounds, in ms).

export type Buckets = Map<number, number>;

/** The histograms `names` at `metricsUrl` (scraped with `headers`: the scrape token): cumulative count per bucket upper bound (ms), by name. */
export async function scrapeHistograms(metricsUrl: string, names: string[], headers: Record<string, string> = {}): Promise<Map<string, Buckets>> {
  const text = await (await fetch(metricsUrl, { headers })).text();
  const out = new Map(names.map((n) => [n, new Map<number, number>()]));
  for (const m of text.matchAll(/^(\w+)_bucket\{le="([^"]+)"\} (\d+)/gm)) out.get(m[1])?.set(m[2] === '+Inf' ? Infinity : Number(m[2]) * 1000, Number(m[3]));
  return out;
}

/** p50 and p99 (as bucket upper bounds) of what was observed between the `before` and `after` scrapes. */
export function bucketQuantiles(before: Buckets, after: Buckets): { p50: number; p99: number } {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  const at = (q: number) => bounds.find((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0) >= q * total) ?? Infinity;
  return { p50: at(0.5), p99: at(0.99) };
}
