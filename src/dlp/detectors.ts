// Content detectors: a pattern finds candidates, a validator (checksum, issuer range, structure, entropy) keeps the
// real ones and gives a confidence, context words nearby raise it (or are required where the pattern alone is too
// common, e.g. nine plain digits). Each detector masks its own matches. Patterns are written so that a start can
// only be tried at a token boundary (look-behind), keeping every scan linear. Pure.

import {
  cardIssuer, esDniValid, frNirValid, githubTokenValid, ibanValid, itCodiceFiscaleValid, luhnValid, nlBsnValid,
  shannonEntropy, ssnValid,
} from './validators.ts';
import { maskEmail, maskKeeping, maskSecret } from './mask.ts';

export const DETECTOR_IDS = [
  'payment_card', 'iban', 'us_ssn', 'es_dni', 'fr_nir', 'it_codice_fiscale', 'nl_bsn', 'email', 'phone',
  'pem_private_key', 'aws_access_key', 'aws_secret_key', 'gcp_api_key', 'gcp_service_account_key',
  'azure_storage_key', 'github_token', 'slack_token', 'stripe_key', 'generic_secret',
] as const;
export type DetectorId = typeof DETECTOR_IDS[number];

export interface DetectorMatch {
  detector: DetectorId;
  /** Offsets in the scanned text (UTF-16 units). */
  start: number;
  end: number;
  confidence: number;
  /** The masked excerpt; never the value. */
  excerpt: string;
}

/**
 * What makes the scanner look for a detector's pattern, so that the text is read once per trigger kind and not
 * once per detector: a run of digits (with single separators) whose digit count is in [min, max]; an upper-case
 * pair and two digits (IBAN, codice fiscale); one of the detector's literal key words or token prefixes (`starts`,
 * case-sensitive), `after` characters being enough to hold the match; an '@'.
 */
export type Trigger = { kind: 'digits'; min: number; max: number } | { kind: 'letters' } | { kind: 'at' }
  | { kind: 'word'; starts: readonly string[]; after: number };

export interface Detector {
  id: DetectorId;
  trigger: Trigger;
  /** A checksum or a strict structure validates a candidate (precision and recall goals apply). */
  validated: boolean;
  /** MITRE-free description for documentation and the console. */
  description: string;
  pattern: RegExp;
  /** Lower-case words that raise the confidence when seen near the match. */
  context: readonly string[];
  /** The match is kept only with a context word nearby (always, or for the values this function picks). */
  contextRequired: boolean | ((value: string) => boolean);
  /** Confidence of a valid candidate without context, or null when invalid. `value` is group 1 or the match. */
  check(value: string): number | null;
  mask(value: string): string;
}

const CONTEXT_BEFORE = 64;
const CONTEXT_AFTER = 24;
const CONTEXT_BONUS = 0.1;

const digitsOf = (s: string): string => s.replace(/\D/g, '');
const compact = (s: string): string => s.replace(/[\s-]/g, '');

/** Documentation addresses (RFC 2606/6761) and placeholder local parts are not personal data. */
const EXAMPLE_DOMAINS = /(?:^|\.)(?:example\.(?:com|org|net)|example|test|invalid|localhost)$/i;

function emailConfidence(v: string): number | null {
  const at = v.lastIndexOf('@');
  const local = v.slice(0, at);
  const domain = v.slice(at + 1);
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return null;
  if (domain.split('.').some((l) => l.length === 0 || l.length > 63 || l.startsWith('-') || l.endsWith('-'))) return null;
  return EXAMPLE_DOMAINS.test(domain) ? null : 0.9;
}

/** ITU country calling codes of one to three digits that are assigned (a compact subset: zones 1–9). */
const CALLING_CODES = new Set(['1', '7', '20', '27', '30', '31', '32', '33', '34', '36', '39', '40', '41', '43', '44', '45',
  '46', '47', '48', '49', '51', '52', '53', '54', '55', '56', '57', '58', '60', '61', '62', '63', '64', '65', '66', '81', '82',
  '84', '86', '90', '91', '92', '93', '94', '95', '98', '212', '213', '216', '234', '254', '351', '352', '353', '354', '356',
  '357', '358', '359', '370', '371', '372', '380', '385', '386', '420', '421', '852', '886', '971', '972', '966']);

function phoneConfidence(v: string): number | null {
  const d = digitsOf(v);
  if (v.startsWith('+')) {
    if (d.length < 8 || d.length > 15) return null;
    const cc = [1, 2, 3].map((n) => d.slice(0, n)).find((c) => CALLING_CODES.has(c));
    return cc ? 0.7 : null;
  }
  // North American numbering plan: NXX-NXX-XXXX, no N11 area, no 555-01XX fiction range.
  if (d.length !== 10 || d[0] < '2' || d[3] < '2' || d.slice(1, 3) === '11') return null;
  if (d.slice(3, 6) === '555' && d.slice(6, 8) === '01') return null;
  return 0.6;
}

/** A PEM private key: its base64 body starts as DER (SEQUENCE, `MI…`) or an OpenSSH key (`b3BlbnNzaC1rZXktdjE`). */
function pemConfidence(v: string): number | null {
  const body = v.slice(v.indexOf('-----', 10) + 5).replace(/\s/g, '');
  return body.startsWith('MI') || body.startsWith('b3BlbnNzaC1rZXktdjE') ? 0.99 : null;
}

const PLACEHOLDER = /^(?:x+|\*+|\.+|changeme|password|secret|redacted|example|test|dummy|placeholder|your[_-]?\w*|<[^>]*>|\$\{.*\}|%\w+%)$/i;

/** A value near a secret key word: long, mixed character classes, ≥ 3.5 bits per character, not a placeholder. */
function genericSecretConfidence(v: string): number | null {
  if (v.length < 16 || PLACEHOLDER.test(v) || /example|sample|dummy|xxxx/i.test(v)) return null;
  const classes = [/[a-z]/, /[A-Z]/, /\d/].filter((r) => r.test(v)).length;
  if (classes < 2 || shannonEntropy(v) < 3.5) return null;
  return 0.75;
}

/** Key words of the generic secret detector in their usual spellings (the trigger is case-sensitive). */
const SECRET_WORDS = ['secret', 'Secret', 'SECRET', 'token', 'Token', 'TOKEN', 'passw', 'Passw', 'PASSW', 'pwd', 'Pwd', 'PWD',
  'api_key', 'apiKey', 'api-key', 'apikey', 'ApiKey', 'API_KEY', 'APIKEY', 'access_key', 'accessKey', 'AccessKey', 'ACCESS_KEY',
  'aws_secret', 'AWS_SECRET'];

const CARD_CONTEXT = ['card', 'visa', 'mastercard', 'amex', 'credit', 'debit', 'payment', 'cc ', 'pan', 'cvv', 'expir'];

export const DETECTORS: readonly Detector[] = [
  {
    id: 'iban', trigger: { kind: 'letters' }, validated: true, description: 'IBAN: length of its country and ISO 7064 mod-97 check',
    pattern: /(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![\w])/g,
    context: ['iban', 'bank', 'account', 'konto', 'compte', 'sepa', 'transfer'], contextRequired: false,
    check: (v) => (ibanValid(v.replace(/ /g, '')) ? 0.9 : null),
    mask: (v) => maskKeeping(v, 2, 4),
  },
  {
    id: 'payment_card', trigger: { kind: 'digits', min: 12, max: 19 }, validated: true, description: 'payment card number: Luhn check and issuer range (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro)',
    pattern: /(?<![\w.-]|[A-Z]{2}\d{2} )\d(?:[ -]?\d){11,18}(?![\w-])/g, context: CARD_CONTEXT, contextRequired: false,
    check: (v) => {
      const d = digitsOf(v);
      const seps = v.length - d.length;
      // Separators only between groups of digits, one kind: "4111 1111 1111 1111", "4111-1111-1111-1111".
      if (seps > 0 && !/^\d{4,6}(?:([ -])\d{4,6})(?:\1\d{1,6}){0,3}$/.test(v)) return null;
      return d.length >= 13 && d.length <= 19 && luhnValid(d) && cardIssuer(d) !== null && !/^(\d)\1+$/.test(d) ? 0.85 : null;
    },
    mask: (v) => maskKeeping(v, 4, 4),
  },
  {
    id: 'nl_bsn', trigger: { kind: 'digits', min: 9, max: 9 }, validated: true, description: 'Dutch citizen service number (BSN): eleven-test, with a context word',
    pattern: /(?<![\w.-])\d{9}(?![\w.-])/g,
    context: ['bsn', 'burgerservicenummer', 'sofinummer', 'sofi-nummer'], contextRequired: true,
    check: (v) => (nlBsnValid(v) ? 0.75 : null),
    mask: (v) => maskKeeping(v, 0, 2),
  },
  {
    id: 'us_ssn', trigger: { kind: 'digits', min: 9, max: 9 }, validated: true, description: 'US social security number: area not 000, 666 or 9xx, group not 00, serial not 0000; plain nine digits need a context word',
    pattern: /(?<![\w-])\d{3}([- ]?)\d{2}\1\d{4}(?![\w-])/g,
    context: ['ssn', 'social security', 'social sec', 'ss#', 'ss #'], contextRequired: (v) => !v.includes('-'),
    check: (v) => (ssnValid(digitsOf(v)) ? 0.8 : null),
    mask: (v) => maskKeeping(v, 0, 4),
  },
  {
    id: 'es_dni', trigger: { kind: 'digits', min: 7, max: 8 }, validated: true, description: 'Spanish DNI or NIE: control letter (number mod 23)',
    pattern: /(?<![\w])(?:\d{8}|[XYZ]\d{7})-?[A-Z](?![\w])/g,
    context: ['dni', 'nie', 'nif', 'documento', 'identidad'], contextRequired: false,
    check: (v) => (esDniValid(compact(v)) ? 0.75 : null),
    mask: (v) => maskKeeping(v, 0, 1),
  },
  {
    id: 'fr_nir', trigger: { kind: 'digits', min: 13, max: 15 }, validated: true, description: 'French social security number (NIR): sex, month and the 97 − (n mod 97) key',
    pattern: /(?<![\w])[1278] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}(?![\w])/g,
    context: ['sécurité sociale', 'securite sociale', 'nir', 'insee', 'numéro de sécu', 'secu'], contextRequired: false,
    check: (v) => (frNirValid(v.replace(/ /g, '')) ? 0.85 : null),
    mask: (v) => maskKeeping(v, 1, 2),
  },
  {
    id: 'it_codice_fiscale', trigger: { kind: 'letters' }, validated: true, description: 'Italian fiscal code: structure and check character',
    pattern: /(?<![\w])[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z](?![\w])/g,
    context: ['codice fiscale', 'c.f.', 'cf:', 'fiscale'], contextRequired: false,
    check: (v) => (itCodiceFiscaleValid(v) ? 0.9 : null),
    mask: (v) => maskKeeping(v, 0, 1),
  },
  {
    id: 'email', trigger: { kind: 'at' }, validated: false, description: 'e-mail address (documentation domains excluded)',
    pattern: /(?<![\w.%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,4}\.[A-Za-z]{2,24}(?![\w-])/g,
    context: ['email', 'e-mail', 'mail', 'contact'], contextRequired: false,
    check: emailConfidence, mask: maskEmail,
  },
  {
    id: 'phone', trigger: { kind: 'digits', min: 8, max: 15 }, validated: false, description: 'phone number: international (+CC, assigned calling code) or North American format',
    pattern: /(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}|\(?[2-9]\d{2}\)?[ .-]?[2-9]\d{2}[ .-]\d{4})(?![\w])/g,
    context: ['phone', 'tel', 'mobile', 'cell', 'fax', 'call'], contextRequired: false,
    check: phoneConfidence, mask: (v) => maskKeeping(v, 2, 2),
  },
  {
    id: 'pem_private_key', trigger: { kind: 'word', starts: ['-----BEGIN '], after: 120 }, validated: true, description: 'PEM private key (PKCS#1, PKCS#8, EC, OpenSSH) with a DER or OpenSSH body',
    pattern: /-----BEGIN (?:(?:RSA|DSA|EC|OPENSSH|ENCRYPTED) )?PRIVATE KEY-----\s{1,4}[A-Za-z0-9+/]{40}/g,
    context: [], contextRequired: false,
    check: pemConfidence, mask: (v) => `${v.slice(0, v.indexOf('-----', 10) + 5)} ********`,
  },
  {
    id: 'aws_access_key', trigger: { kind: 'word', starts: ['AKIA', 'ASIA'], after: 24 }, validated: true, description: 'AWS access key id (AKIA/ASIA + 16 base32), AWS documentation keys excluded',
    pattern: /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z2-7]{16}(?![A-Za-z0-9])/g,
    context: ['aws', 'access_key', 'access key'], contextRequired: false,
    check: (v) => (v.endsWith('EXAMPLE') ? null : 0.9), mask: (v) => maskSecret(v, 4),
  },
  {
    id: 'aws_secret_key', trigger: { kind: 'word', starts: ['aws_secret', 'AWS_SECRET', 'SecretAccessKey'], after: 120 }, validated: true, description: 'AWS secret access key (40 base64 characters) after its key name',
    pattern: /(?<![A-Za-z])(?:aws_?secret_?access_?key|SecretAccessKey)["']?\s{0,3}[:=]\s{0,3}["']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])/gi,
    context: [], contextRequired: false,
    check: (v) => (/EXAMPLEKEY$/.test(v) || shannonEntropy(v.slice(-40)) < 4 ? null : 0.95),
    mask: (v) => maskSecret(v, v.length - 40),
  },
  {
    id: 'gcp_api_key', trigger: { kind: 'word', starts: ['AIza'], after: 44 }, validated: true, description: 'Google Cloud API key (AIza + 35)',
    pattern: /(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])/g, context: ['google', 'gcp', 'api'], contextRequired: false,
    check: (v) => (shannonEntropy(v) < 3.5 ? null : 0.9), mask: (v) => maskSecret(v, 4),
  },
  {
    id: 'gcp_service_account_key', trigger: { kind: 'word', starts: ['"private_key_id"'], after: 70 }, validated: true, description: 'Google service account key file (private_key_id of 40 hex digits)',
    pattern: /"private_key_id"\s{0,3}:\s{0,3}"[0-9a-f]{40}"/g, context: ['service_account'], contextRequired: true,
    check: () => 0.95, mask: () => '"private_key_id": "********"',
  },
  {
    id: 'azure_storage_key', trigger: { kind: 'word', starts: ['AccountKey='], after: 100 }, validated: true, description: 'Azure storage account key (AccountKey= 64 bytes base64), the Azurite development key excluded',
    pattern: /AccountKey=[A-Za-z0-9+/]{86}==/g, context: [], contextRequired: false,
    check: (v) => (v.startsWith('AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq') ? null : 0.95),
    mask: (v) => maskSecret(v, 11),
  },
  {
    id: 'github_token', trigger: { kind: 'word', starts: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'], after: 44 }, validated: true, description: 'GitHub token (ghp_/gho_/ghu_/ghs_/ghr_): CRC-32 checksum of its last six characters',
    pattern: /(?<![\w])gh[pousr]_[A-Za-z0-9]{36}(?![\w])/g, context: [], contextRequired: false,
    check: (v) => (githubTokenValid(v) ? 0.99 : null), mask: (v) => maskSecret(v, 4),
  },
  {
    id: 'slack_token', trigger: { kind: 'word', starts: ['xoxa-', 'xoxb-', 'xoxp-', 'xoxr-', 'xoxs-'], after: 130 }, validated: true, description: 'Slack token (xoxb-/xoxp-/xoxa-/xoxr-/xoxs- with its numeric team and user ids)',
    pattern: /(?<![\w-])xox[abprs]-\d{8,13}-\d{8,13}(?:-\d{8,13})?-[A-Za-z0-9]{24,34}(?![\w-])/g, context: [], contextRequired: false,
    check: (v) => (shannonEntropy(v.slice(v.lastIndexOf('-') + 1)) < 3.5 ? null : 0.95), mask: (v) => maskSecret(v, 5),
  },
  {
    id: 'stripe_key', trigger: { kind: 'word', starts: ['sk_live_', 'rk_live_'], after: 110 }, validated: true, description: 'Stripe live secret or restricted key (test keys excluded)',
    pattern: /(?<![\w])[rs]k_live_[A-Za-z0-9]{24,99}(?![\w])/g, context: [], contextRequired: false,
    check: (v) => (shannonEntropy(v.slice(8)) < 3.5 ? null : 0.95), mask: (v) => maskSecret(v, 8),
  },
  {
    id: 'generic_secret', trigger: { kind: 'word', starts: SECRET_WORDS, after: 200 }, validated: false, description: 'high-entropy value assigned to a secret key word (password, secret, token, api_key…)',
    pattern: /(?<![A-Za-z0-9])(?:secret|token|passwd|password|pwd|api[_-]?key|access[_-]?key|client[_-]?secret|auth[_-]?token)[A-Za-z0-9_.-]{0,20}["']?\s{0,3}[:=]\s{0,3}["']?[A-Za-z0-9+/_\-.=~!@#$%^&*]{12,128}/gi,
    context: [], contextRequired: false,
    check: (v) => genericSecretConfidence(valueAfterAssignment(v)),
    mask: (v) => `${v.slice(0, v.length - valueAfterAssignment(v).length)}********`,
  },
];

/** The value of `name = "value"` / `name: value`. */
function valueAfterAssignment(v: string): string {
  const m = /[:=]\s*["']?([^"'\s]*)$/.exec(v);
  return m ? m[1]! : v;
}

function hasContext(text: string, start: number, end: number, words: readonly string[]): boolean {
  if (words.length === 0) return false;
  const near = `${text.slice(Math.max(0, start - CONTEXT_BEFORE), start)} ${text.slice(end, end + CONTEXT_AFTER)}`.toLowerCase();
  return words.some((w) => near.includes(w));
}

/** Left and right context a window keeps so that a pattern's look-behind and look-ahead see real text. */
const EDGE = 6;

/**
 * Runs one detector over text[from, to) (the whole text by default), calling `emit` for each validated match.
 * Within a window, a match too close to a cut edge is left to the window that holds it whole.
 */
export function runDetector(d: Detector, text: string, emit: (m: DetectorMatch) => void, from = 0, to = text.length): void {
  const re = d.pattern;
  const part = from === 0 && to === text.length ? text : text.slice(from, to);
  const minStart = from === 0 ? 0 : EDGE;
  const maxEnd = to === text.length ? part.length : part.length - 2;
  re.lastIndex = 0;
  for (let m = re.exec(part); m !== null; m = re.exec(part)) {
    const value = m[0];
    if (m.index < minStart || m.index + value.length > maxEnd) continue;
    const start = from + m.index;
    const end = start + value.length;
    let confidence = d.check(value);
    if (confidence === null) continue;
    const context = hasContext(text, start, end, d.context);
    if (!context && (d.contextRequired === true || (typeof d.contextRequired === 'function' && d.contextRequired(value)))) continue;
    if (context) confidence = Math.min(0.99, confidence + CONTEXT_BONUS);
    emit({ detector: d.id, start, end, confidence: Math.round(confidence * 100) / 100, excerpt: d.mask(value) });
  }
}

/** The detectors of these ids (all when `ids` is undefined); unknown ids are an error for the caller to report. */
export function selectDetectors(ids?: readonly string[]): Detector[] {
  return ids === undefined ? [...DETECTORS] : DETECTORS.filter((d) => ids.includes(d.id));
}

const DIGIT_RUN = /\d(?:[ \-./()]{0,2}\d){6,}/g;
const LETTERS = /[A-Z]{2}\d\d/g;

/**
 * Which detectors each trigger opens a window for, computed once per detector list (detectors by their index in
 * the list): numeric detectors by digit count (index 20: more than 19 digits, every numeric detector), the
 * upper-case-pair and '@' detectors, and one alternation of every word-triggered detector's starts (longest first)
 * with the detectors of each start.
 */
interface TriggerPlan {
  byDigits: number[][];
  lettered: number[];
  atted: number[];
  words: RegExp | null;
  byStart: Map<string, { only: number[]; after: number }[]>;
}
const plans = new WeakMap<readonly Detector[], TriggerPlan>();

function planOf(detectors: readonly Detector[]): TriggerPlan {
  let plan = plans.get(detectors);
  if (plan) return plan;
  const indices = (keep: (t: Trigger) => boolean): number[] => detectors.flatMap((d, i) => (keep(d.trigger) ? [i] : []));
  const byDigits = Array.from({ length: 21 }, (_, n) => indices((t) => t.kind === 'digits' && (n === 20 || (n >= t.min && n <= t.max))));
  const byStart: TriggerPlan['byStart'] = new Map();
  detectors.forEach((d, i) => {
    if (d.trigger.kind !== 'word') return;
    for (const w of d.trigger.starts) byStart.set(w, [...(byStart.get(w) ?? []), { only: [i], after: d.trigger.after }]);
  });
  const alternation = [...byStart.keys()].sort((a, b) => b.length - a.length).map((w) => w.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&'));
  plan = {
    byDigits, byStart, words: alternation.length > 0 ? new RegExp(alternation.join('|'), 'g') : null,
    lettered: indices((t) => t.kind === 'letters'), atted: indices((t) => t.kind === 'at'),
  };
  plans.set(detectors, plan);
  return plan;
}

/** Digits (0–9) in text[from, to). */
function countDigits(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) { const c = text.charCodeAt(i); if (c >= 48 && c <= 57) n++; }
  return n;
}

/**
 * The windows the triggers of the chosen detectors open, merged per detector: `visit(detector, from, to)` once per
 * run of overlapping windows, so a stretch of text is read by a detector's pattern once however many triggers it
 * holds (each trigger kind's windows come in text order, and a detector has one trigger kind). The triggers are
 * found by regular expressions: irregexp's native scan reads 1.2–1.4 ns per character on the development host where
 * a JavaScript loop classifying each character takes 3 ns before doing anything (measured), so the text is read
 * once per trigger kind and not once per detector.
 */
function triggeredWindows(text: string, detectors: readonly Detector[], visit: (detector: number, from: number, to: number) => void): void {
  const plan = planOf(detectors);
  const openFrom = new Int32Array(detectors.length).fill(-1);
  const openTo = new Int32Array(detectors.length);
  const open = (ds: readonly number[], start: number, end: number, before: number, after: number): void => {
    const from = Math.max(0, start - before - EDGE);
    const to = Math.min(text.length, end + after + EDGE);
    for (const d of ds) {
      if (openFrom[d]! >= 0 && from <= openTo[d]!) { if (to > openTo[d]!) openTo[d] = to; continue; }
      if (openFrom[d]! >= 0) visit(d, openFrom[d]!, openTo[d]!);
      openFrom[d] = from;
      openTo[d] = to;
    }
  };
  if (plan.byDigits[20]!.length > 0) {
    DIGIT_RUN.lastIndex = 0;
    for (let m = DIGIT_RUN.exec(text); m !== null; m = DIGIT_RUN.exec(text)) {
      const end = DIGIT_RUN.lastIndex;
      open(plan.byDigits[Math.min(20, countDigits(text, m.index, end))]!, m.index, end, 6, 2);
    }
  }
  if (plan.lettered.length > 0) {
    LETTERS.lastIndex = 0;
    for (let m = LETTERS.exec(text); m !== null; m = LETTERS.exec(text)) open(plan.lettered, m.index, m.index, 6, 48);
  }
  if (plan.words) {
    const re = plan.words;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      for (const w of plan.byStart.get(m[0])!) open(w.only, m.index, m.index, 32, w.after);
    }
  }
  for (let at = plan.atted.length > 0 ? text.indexOf('@') : -1; at >= 0; at = text.indexOf('@', at + 1)) open(plan.atted, at, at, 66, 260);
  for (let d = 0; d < detectors.length; d++) if (openFrom[d]! >= 0) visit(d, openFrom[d]!, openTo[d]!);
}

const RANK = new Map(DETECTORS.map((d, i) => [d.id, i]));

/** Index of the first interval of `kept` (sorted by start, disjoint) that ends after `pos`. */
function firstEndingAfter(kept: readonly DetectorMatch[], pos: number): number {
  let lo = 0;
  let hi = kept.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (kept[mid]!.end <= pos) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/**
 * Every match of the chosen detectors in `text`, sorted by start. Patterns run only in the windows their triggers
 * open, overlapping windows of a detector merged into one. Specific detectors win: a match overlapping a match of an
 * earlier detector in DETECTORS is dropped (an IBAN's digits are not also a card, an AWS key not also a generic
 * secret).
 */
export function detect(text: string, detectors: readonly Detector[]): DetectorMatch[] {
  const found: DetectorMatch[] = [];
  const keep = (m: DetectorMatch): void => { found.push(m); };
  triggeredWindows(text, detectors, (d, from, to) => runDetector(detectors[d]!, text, keep, from, to));
  const byPriority = found.sort((a, b) => RANK.get(a.detector)! - RANK.get(b.detector)! || a.start - b.start);
  const kept: DetectorMatch[] = [];
  for (const m of byPriority) {
    const i = firstEndingAfter(kept, m.start);
    const next = kept[i];
    if (next === undefined || next.start >= m.end) kept.splice(i, 0, m);
  }
  return kept;
}
