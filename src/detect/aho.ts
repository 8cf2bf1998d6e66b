// Aho-Corasick multi-pattern substring search over lowercased field values, used by the rule index to find
// every indexed literal in one pass. Characters above U+00FE share one code, which can only add candidate
// hits (the index is a pre-filter; predicates decide). Pure.

const OTHER = 255;

function code(c: number): number {
  return c < OTHER ? c : OTHER;
}

export class AhoCorasick {
  private readonly next = new Map<number, number>(); // state * 256 + char → state
  private fail: Int32Array = new Int32Array(1);
  private out: number[][] = [[]];
  private states = 1;

  constructor(patterns: string[]) {
    patterns.forEach((p, id) => this.add(p, id));
    this.build();
  }

  private add(p: string, id: number): void {
    let s = 0;
    for (let i = 0; i < p.length; i++) {
      const key = s * 256 + code(p.charCodeAt(i));
      let t = this.next.get(key);
      if (t === undefined) { t = this.states++; this.next.set(key, t); this.out.push([]); }
      s = t;
    }
    this.out[s].push(id);
  }

  private build(): void {
    this.fail = new Int32Array(this.states);
    const children: number[][] = Array.from({ length: this.states }, () => []);
    for (const key of this.next.keys()) children[Math.floor(key / 256)].push(key);
    const queue: number[] = [];
    for (const key of children[0]) queue.push(this.next.get(key) as number);
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi];
      for (const key of children[s]) {
        const c = key % 256;
        const t = this.next.get(key) as number;
        let f = this.fail[s];
        while (f !== 0 && !this.next.has(f * 256 + c)) f = this.fail[f];
        const ft = this.next.get(f * 256 + c);
        this.fail[t] = ft !== undefined && ft !== t ? ft : 0;
        if (this.out[this.fail[t]].length > 0) this.out[t] = [...this.out[t], ...this.out[this.fail[t]]];
        queue.push(t);
      }
    }
  }

  /** Calls `hit` with the id of every pattern occurring in `text` (an id may be reported more than once). */
  scan(text: string, hit: (id: number) => void): void {
    const next = this.next;
    const fail = this.fail;
    const out = this.out;
    let s = 0;
    for (let i = 0; i < text.length; i++) {
      const c = code(text.charCodeAt(i));
      let t = next.get(s * 256 + c);
      while (t === undefined && s !== 0) { s = fail[s]; t = next.get(s * 256 + c); }
      s = t ?? 0;
      const o = out[s];
      for (let j = 0; j < o.length; j++) hit(o[j]);
    }
  }
}
