// Field schemas: which Sigma field names a logsource carries, in the format of SigmaHQ's
// tests/logsource.json (`legit.<product>.{common,category,service}` plus `addon`). With a schema
// configured, a rule naming a field its logsource never carries is rejected (that is how SigmaHQ keeps
// such rules in `unsupported/`). Logsources the schema does not list (or lists empty) are not checked. Pure.

import type { Logsource } from './ir.ts';

/** Known field names of a logsource, or undefined when the schema says nothing about it. */
export type FieldSchema = (ls: Logsource) => ReadonlySet<string> | undefined;

type Lists = { common?: string[]; category?: Record<string, string[]>; service?: Record<string, string[]> };

/** Builds a FieldSchema from a parsed logsource.json-shaped document; throws when its shape is wrong. */
export function fieldSchemaFrom(doc: unknown): FieldSchema {
  const d = doc as { legit?: Record<string, Lists>; addon?: Record<string, Lists> } | null;
  if (!d || typeof d.legit !== 'object' || d.legit === null) throw new Error("field schema needs a 'legit' map of products");
  const legit = d.legit;
  const addon = d.addon ?? {};
  const cache = new Map<string, ReadonlySet<string> | undefined>();
  return (ls) => {
    const product = ls.product ?? 'empty';
    const key = `${product}|${ls.category ?? ''}|${ls.service ?? ''}`;
    if (cache.has(key)) return cache.get(key);
    const p = legit[product];
    const cat = ls.category ? p?.category?.[ls.category] : undefined;
    const svc = ls.service ? p?.service?.[ls.service] : undefined;
    // An empty list in the schema means "fields not catalogued": such logsources are not checked.
    const listed = p !== undefined && (cat !== undefined || svc !== undefined)
      && (ls.category === undefined || (cat?.length ?? 0) > 0) && (ls.service === undefined || (svc?.length ?? 0) > 0);
    const fields = listed
      ? new Set<string>([
        ...(p.common ?? []), ...(cat ?? []), ...(svc ?? []),
        ...(ls.category ? addon[product]?.category?.[ls.category] ?? [] : []),
        ...(ls.service ? addon[product]?.service?.[ls.service] ?? [] : []),
      ])
      : undefined;
    cache.set(key, fields);
    return fields;
  };
}
