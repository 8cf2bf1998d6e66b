// Precision and recall of the detectors over a labelled corpus: a positive sample of detector D counts a true
// positive when D matches it and a false negative otherwise; any match of D on a sample not labelled positive for
// D (and not marked `also` D) is a false positive (near misses of D, other detectors' samples, background lines). Pure.

import { detect, DETECTORS, type DetectorId } from './detectors.ts';

/** `also`: detectors whose match on this sample is acceptable and not counted (e.g. the generic secret detector on a
 * random value assigned to GITHUB_TOKEN whose checksum is wrong: it looks like a secret, it is not a GitHub token). */
export interface LabelledSample { detector: string; label: 'positive' | 'negative'; text: string; also?: string[] }
export interface DetectorScore { detector: DetectorId; validated: boolean; tp: number; fp: number; fn: number; precision: number; recall: number }

export function evaluate(samples: readonly LabelledSample[]): DetectorScore[] {
  const counts = new Map(DETECTORS.map((d) => [d.id, { tp: 0, fp: 0, fn: 0 }]));
  for (const s of samples) {
    const found = new Set(detect(s.text, DETECTORS).map((m) => m.detector));
    for (const id of found) {
      if (s.label === 'positive' && s.detector === id) counts.get(id)!.tp++;
      else if (!s.also?.includes(id)) counts.get(id)!.fp++;
    }
    if (s.label === 'positive' && !found.has(s.detector as DetectorId)) counts.get(s.detector as DetectorId)!.fn++;
  }
  return DETECTORS.map((d) => {
    const c = counts.get(d.id)!;
    return { detector: d.id, validated: d.validated, ...c, precision: c.tp + c.fp === 0 ? 1 : c.tp / (c.tp + c.fp), recall: c.tp + c.fn === 0 ? 1 : c.tp / (c.tp + c.fn) };
  });
}
