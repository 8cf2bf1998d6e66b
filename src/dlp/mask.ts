// Masked excerpts: what a finding may show of a match. Letters and digits are replaced by `*` except the few a
// detector keeps (a card's first and last four digits, an SSN's last four, a token's public prefix); separators
// stay so the shape is recognisable (`4111 **** **** 1111`). A data-set match keeps nothing. Pure.

const STAR = 42;

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** Masks every letter and digit of `value` except the first `keepStart` and the last `keepEnd` of them. */
export function maskKeeping(value: string, keepStart: number, keepEnd: number): string {
  let total = 0;
  for (let i = 0; i < value.length; i++) if (isAlnum(value.charCodeAt(i))) total++;
  const keepBoth = keepStart + keepEnd;
  // Never keep half or more of a value: short values are masked entirely.
  const [ks, ke] = keepBoth * 2 > total ? [0, 0] : [keepStart, keepEnd];
  const codes: number[] = [];
  let seen = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (!isAlnum(c)) { codes.push(c); continue; }
    codes.push(seen < ks || seen >= total - ke ? c : STAR);
    seen++;
  }
  return String.fromCharCode(...codes);
}

/** A known public prefix (`ghp_`, `AKIA`, `sk_live_`) kept, the secret part replaced by eight stars. */
export function maskSecret(value: string, prefixLength: number): string {
  return `${value.slice(0, Math.min(prefixLength, Math.floor(value.length / 3)))}********`;
}

/** An e-mail address: first character of the local part and the domain kept. */
export function maskEmail(value: string): string {
  const at = value.lastIndexOf('@');
  return `${value[0]}***${value.slice(at)}`;
}

/** Nothing kept: the shape only (used for data-set matches, whose every character is protected). */
export function maskAll(value: string): string {
  return maskKeeping(value, 0, 0);
}
