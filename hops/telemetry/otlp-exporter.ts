// Sends the metrics to an OTLP/HTTP receiver every interval (and once more at close). Runs beside
// traffic, never in its way: one export at a time, failures logged once (not every interval), and
// never with the headers, which may hold the collector's credentials.
import { encodeOtlpMetrics, unixNanos, type PromSnapshotMetric } from './otlp-encode';
import type { MetricDef } from './metrics';

export interface OtlpExporterOptions {
  /** Base URL; the metrics go to <endpoint>/v1/metrics. */
  endpoint: string;
  intervalMs: number;
  headers: Readonly<Record<string, string>>;
  chain: string;
  defs: readonly MetricDef[];
  snapshot: () => Promise<PromSnapshotMetric[]>;
  log: (line: string) => void;
}

const REQUEST_TIMEOUT_MS = 10_000;
const CLOSE_TIMEOUT_MS = 2_000;

/** <endpoint>/v1/metrics. */
export function metricsUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/metrics`;
}

/** The URL without user and password, for log lines. */
function shown(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

function describeFailure(err: Error, timeoutMs: number): string {
  if (err.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND) is in its cause.
  const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
  return cause ? `${err.message}: ${cause.code ?? cause.message}` : err.message;
}

/** fetch's failure when the connection it used was closed or reset under it. */
function connectionCut(err: Error): boolean {
  const code = (err as Error & { cause?: { code?: string } }).cause?.code;
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE';
}

export class OtlpExporter {
  private readonly url: string;
  private readonly startTimeUnixNano = unixNanos(Date.now());
  private timer?: NodeJS.Timeout;
  private sending?: Promise<void>;
  /** The last failure logged; cleared by a success, which is then logged once too. */
  private failing?: string;

  constructor(private readonly o: OtlpExporterOptions) {
    this.url = metricsUrl(o.endpoint);
  }

  start(): void {
    this.timer = setInterval(() => void this.export(), this.o.intervalMs);
    this.timer.unref();
  }

  /** One export; does nothing while the previous one is still on its way. */
  export(timeoutMs = REQUEST_TIMEOUT_MS): Promise<void> {
    this.sending ??= this.send(timeoutMs).finally(() => (this.sending = undefined));
    return this.sending;
  }

  private async send(timeoutMs: number): Promise<void> {
    try {
      const body = encodeOtlpMetrics(await this.o.snapshot(), {
        chain: this.o.chain,
        startTimeUnixNano: this.startTimeUnixNano,
        timeUnixNano: unixNanos(Date.now()),
        defs: this.o.defs,
      });
      if (body.resourceMetrics[0].scopeMetrics[0].metrics.length === 0) return; // nothing counted yet
      const signal = AbortSignal.timeout(timeoutMs); // one bound for both tries: close() must stay within its own
      const post = () =>
        fetch(this.url, {
          method: 'POST',
          headers: { ...this.o.headers, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal,
        });
      // A kept-alive connection the collector closed (it restarted, or went away) fails the POST
      // before it reaches anyone: one more try, on a new connection, says whether it is really gone.
      // Metrics are cumulative totals, so a point the collector did get twice changes nothing.
      const res = await post().catch((err: Error) => (connectionCut(err) ? post() : Promise.reject(err)));
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      if (this.failing) this.o.log(`otlp: export to ${shown(this.url)} works again`);
      this.failing = undefined;
    } catch (err) {
      const reason = this.withoutHeaderValues(describeFailure(err as Error, timeoutMs));
      if (reason !== this.failing)
        this.o.log(
          `otlp: export to ${shown(this.url)} failed: ${reason} (metrics keep counting; retrying every ` +
            `${this.o.intervalMs} ms)`,
        );
      this.failing = reason;
    }
  }

  /** fetch names a header value it refuses in its error; those values may be credentials. */
  private withoutHeaderValues(text: string): string {
    for (const value of Object.values(this.o.headers)) if (value.length > 0) text = text.split(value).join('***');
    return text;
  }

  /** Stops the timer and sends the totals once more (bounded), so the last interval is not lost. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.sending;
    await this.export(CLOSE_TIMEOUT_MS);
  }
}
