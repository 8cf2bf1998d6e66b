// Hunting over event text: parse (any input format of input.ts), classify each record's logsource and run
// the detector, as `vigil scan` and the benchmark do. Records that are not events Vigil understands are
// counted. Pure.

import type { Alert } from './alerts.ts';
import type { Detector } from './engine.ts';
import { parseEvents } from './input.ts';
import type { ParseReport } from './input.ts';
import { normalizeRecord } from './records.ts';

export interface ScanReport extends ParseReport { unclassified: number; alerts: number }

export function emptyScanReport(): ScanReport {
  return { records: 0, errors: 0, firstErrors: [], unclassified: 0, alerts: 0 };
}

/** Runs `detector` over every record in `text`, calling `onAlert` for each alert. */
export function scanText(detector: Detector, text: string, tenant: string, onAlert: (a: Alert) => void, report = emptyScanReport()): ScanReport {
  parseEvents(text, (raw) => {
    const n = normalizeRecord(raw);
    if (!n) { report.unclassified++; return; }
    for (const a of detector.detect(n, tenant)) { report.alerts++; onAlert(a); }
  }, report);
  return report;
}
