// Checksum and structure validators of the content detectors: Luhn and issuer ranges of payment cards, ISO 13616
// IBAN (mod 97, length per country), US SSN area/group/serial rules, Spanish DNI/NIE letter, French NIR key,
// Italian codice fiscale check character, Dutch BSN eleven-test, GitHub token CRC32, Shannon entropy. Pure.

/** Luhn check over a string of digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** Card issuer by IIN range and length (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro), or null. */
export function cardIssuer(digits: string): string | null {
  const n = digits.length;
  const p2 = Number(digits.slice(0, 2));
  const p3 = Number(digits.slice(0, 3));
  const p4 = Number(digits.slice(0, 4));
  const p6 = Number(digits.slice(0, 6));
  if (digits[0] === '4' && (n === 13 || n === 16 || n === 19)) return 'visa';
  if (((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) && n === 16) return 'mastercard';
  if ((p2 === 34 || p2 === 37) && n === 15) return 'amex';
  if ((p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925)) && n >= 16 && n <= 19) return 'discover';
  if (p4 >= 3528 && p4 <= 3589 && n >= 16 && n <= 19) return 'jcb';
  if (((p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39) && n >= 14 && n <= 19) return 'diners';
  if (p2 === 62 && n >= 16 && n <= 19) return 'unionpay';
  if ((p4 === 5018 || p4 === 5020 || p4 === 5038 || p4 === 5893 || p4 === 6304 || p4 === 6759 || p4 === 6761 || p4 === 6762 || p4 === 6763) && n >= 12 && n <= 19) return 'maestro';
  return null;
}

/** IBAN lengths per country (ISO 13616 registry, SEPA countries and a few more). */
const IBAN_LENGTHS: Record<string, number> = {
  AD: 24, AE: 23, AT: 20, BE: 16, BG: 22, CH: 21, CY: 28, CZ: 24, DE: 22, DK: 18, EE: 20, ES: 24, FI: 18, FO: 18,
  FR: 27, GB: 22, GI: 23, GL: 18, GR: 27, HR: 21, HU: 28, IE: 22, IS: 26, IT: 27, LI: 21, LT: 20, LU: 20, LV: 21,
  MC: 27, MT: 31, NL: 18, NO: 15, PL: 28, PT: 25, RO: 24, SA: 24, SE: 24, SI: 19, SK: 24, SM: 27, TR: 26, VA: 22,
};

/** IBAN (no spaces, upper case): country length and mod-97 check equal to 1. */
export function ibanValid(iban: string): boolean {
  if (IBAN_LENGTHS[iban.slice(0, 2)] !== iban.length) return false;
  const moved = iban.slice(4) + iban.slice(0, 4);
  let rem = 0;
  for (let i = 0; i < moved.length; i++) {
    const c = moved.charCodeAt(i);
    if (c >= 48 && c <= 57) rem = (rem * 10 + (c - 48)) % 97;
    else if (c >= 65 && c <= 90) rem = (rem * 100 + (c - 55)) % 97;
    else return false;
  }
  return rem === 1;
}

/** US SSN (9 digits): area not 000, 666 or 900–999; group not 00; serial not 0000; not a published example. */
export function ssnValid(digits: string): boolean {
  const area = Number(digits.slice(0, 3));
  const group = Number(digits.slice(3, 5));
  const serial = Number(digits.slice(5));
  if (area === 0 || area === 666 || area >= 900 || group === 0 || serial === 0) return false;
  return digits !== '078051120' && digits !== '219099999' && digits !== '123456789';
}

const DNI_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';

/** Spanish DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter): the control letter. */
export function esDniValid(id: string): boolean {
  const head = id[0] === 'X' ? '0' : id[0] === 'Y' ? '1' : id[0] === 'Z' ? '2' : id[0];
  const number = Number(head + id.slice(1, 8));
  return Number.isFinite(number) && DNI_LETTERS[number % 23] === id[8];
}

/** French NIR (15 characters, Corsica 2A/2B): sex 1/2/7/8, month 01–12 or 20+, key = 97 − (number mod 97). */
export function frNirValid(nir: string): boolean {
  if (!'1278'.includes(nir[0]!)) return false;
  const month = Number(nir.slice(3, 5));
  if (!((month >= 1 && month <= 12) || month >= 20)) return false;
  const body = nir.slice(0, 13).replace('2A', '19').replace('2B', '18');
  if (!/^\d{13}$/.test(body)) return false;
  return 97 - Number(BigInt(body) % 97n) === Number(nir.slice(13));
}

const CF_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];

/** Italian codice fiscale (16 characters): the check character from odd/even position tables. */
export function itCodiceFiscaleValid(cf: string): boolean {
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    const c = cf.charCodeAt(i);
    const v = c >= 48 && c <= 57 ? c - 48 : c - 65;
    sum += i % 2 === 0 ? CF_ODD[v]! : v;
  }
  return String.fromCharCode(65 + (sum % 26)) === cf[15];
}

/** Dutch BSN (9 digits): 9a + 8b + … + 2h − i ≡ 0 (mod 11), not all zero. */
export function nlBsnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += (9 - i) * (digits.charCodeAt(i) - 48);
  sum -= digits.charCodeAt(8) - 48;
  return sum % 11 === 0 && Number(digits) > 9_999_999;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE) of an ASCII string. */
export function crc32(s: string): number {
  let c = 0xffffffff;
  for (let i = 0; i < s.length; i++) c = CRC_TABLE[(c ^ s.charCodeAt(i)) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Base62 of a number, left-padded with '0' to `width`. */
export function base62(n: number, width: number): string {
  let out = '';
  for (let v = n; v > 0; v = Math.floor(v / 62)) out = BASE62[v % 62] + out;
  return out.padStart(width, '0');
}

/** GitHub token (`ghp_` + 30 random + 6 checksum): the last six characters are base62(CRC32(random)). */
export function githubTokenValid(token: string): boolean {
  const body = token.slice(4);
  return base62(crc32(body.slice(0, 30)), 6) === body.slice(30);
}

const entropyCounts = new Uint16Array(256);

/** Shannon entropy in bits per character (characters above U+00FF counted as one symbol). */
export function shannonEntropy(s: string): number {
  const n = Math.min(s.length, 65_535);
  entropyCounts.fill(0);
  for (let i = 0; i < n; i++) entropyCounts[Math.min(255, s.charCodeAt(i))]!++;
  let h = 0;
  for (let c = 0; c < 256; c++) {
    const k = entropyCounts[c]!;
    if (k > 0) { const p = k / n; h -= p * Math.log2(p); }
  }
  return h;
}
