// Aho-Corasick multi-pattern substring search for lowercase patterns, case-insensitive for Latin-1 text
// (uppercase characters share their lowercase character's class), used by the rule index to find every
// indexed literal in one pass. The automaton is compiled to a dense DFA over a compressed alphabet
// (one class per character occurring in a pattern, one for every other character), so scanning costs one
// array read per character. Characters above U+00FF share one class, which can only add candidate hits
// (the index is a pre-filter; predicates decide). Pure.

const HIGH = 256; // class slot for every code unit above U+00FF

export class AhoCorasick {
  readonly minLength: number; // the shortest pattern's length
  private readonly classOf = new Uint8Array(HIGH + 1); // 0 = a character no pattern contains
  private readonly width: number;
  private readonly delta: Int32Array; // state * width + class → next state
  private readonly out: number[][]; // state → ids of the patterns ending there (suffix outputs merged)
  private readonly hasOut: Uint8Array;

  constructor(patterns: string[]) {
    this.minLength = Math.min(...patterns.map((p) => p.length));
    let classes = 1;
    for (const p of patterns) {
      for (let i = 0; i < p.length; i++) {
        const c = Math.min(p.charCodeAt(i), HIGH);
        if (this.classOf[c] === 0) this.classOf[c] = classes < 255 ? classes++ : 255;
      }
    }
    // Patterns are lowercase; an uppercase character scans as its lowercase class, so text needs no lowercasing.
    for (let c = 0; c < HIGH; c++) {
      const lower = String.fromCharCode(c).toLowerCase().charCodeAt(0);
      if (lower !== c && lower < HIGH && this.classOf[c] === 0) this.classOf[c] = this.classOf[lower];
    }
    this.width = classes >= 255 ? 256 : classes;
    const trie: Map<number, number>[] = [new Map()];
    const out: number[][] = [[]];
    patterns.forEach((p, id) => {
      let s = 0;
      for (let i = 0; i < p.length; i++) {
        const a = this.classOf[Math.min(p.charCodeAt(i), HIGH)];
        let t = trie[s].get(a);
        if (t === undefined) { t = trie.length; trie[s].set(a, t); trie.push(new Map()); out.push([]); }
        s = t;
      }
      out[s].push(id);
    });
    const w = this.width;
    const delta = new Int32Array(trie.length * w);
    const fail = new Int32Array(trie.length);
    const queue: number[] = [];
    for (const [a, t] of trie[0]) { delta[a] = t; queue.push(t); }
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi];
      if (out[fail[s]].length > 0) out[s] = [...out[s], ...out[fail[s]]];
      for (let a = 0; a < w; a++) {
        const t = trie[s].get(a);
        if (t === undefined) { delta[s * w + a] = delta[fail[s] * w + a]; continue; }
        delta[s * w + a] = t;
        fail[t] = delta[fail[s] * w + a];
        queue.push(t);
      }
    }
    this.delta = delta;
    this.out = out;
    this.hasOut = Uint8Array.from(out, (o) => (o.length > 0 ? 1 : 0));
  }

  /** Calls `hit` with the id of every pattern occurring in `text` (an id may be reported more than once). */
  scan(text: string, hit: (id: number) => void): void {
    const { classOf, delta, hasOut, out, width } = this;
    let s = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      s = delta[s * width + classOf[c < HIGH ? c : HIGH]];
      if (hasOut[s] === 1) { const o = out[s]; for (let j = 0; j < o.length; j++) hit(o[j]); }
    }
  }
}
