// moat-telemetry: one canonical log line per request, with a stable set of field names.
import type { ExchangeRecord, HopLogic } from '../logic/view';
import { recordablePath } from '../events/recordable';

export const TELEMETRY_FIELDS = [
  'trace',
  'method',
  'scheme',
  'host',
  'path',
  'status',
  'req_bytes',
  'res_bytes',
  'ttfb_ms',
  'duration_ms',
  'error',
] as const;

function quoteIfNeeded(value: string): string {
  return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
}

export function telemetryLine(r: ExchangeRecord): string {
  const fields: Record<(typeof TELEMETRY_FIELDS)[number], string | number> = {
    trace: r.request.trace,
    method: r.request.method,
    scheme: r.request.scheme,
    host: r.request.host,
    path: recordablePath(r.request.path),
    status: r.status,
    req_bytes: r.requestBytes,
    res_bytes: r.responseBytes,
    ttfb_ms: r.ttfbMs.toFixed(2),
    duration_ms: r.durationMs.toFixed(2),
    error: r.error ?? '-',
  };
  return 'moat-telemetry ' + TELEMETRY_FIELDS.map((k) => `${k}=${quoteIfNeeded(String(fields[k]))}`).join(' ');
}

export function telemetryHop(): HopLogic {
  return { onComplete: telemetryLine };
}
