// A finding: what security tooling wants out of the ledger (a denial, a DLP block, a would-deny in report mode, a spent
// budget, a hop that failed), read from one response event. Pure: `moat chain findings` (SARIF, JSON, table) and the
// live sinks (events.sinks) both make their findings here, so the two never disagree. Only the event's own recorded
// fields are used (already redacted by the recording process), and the free text is masked once more as a `redacted`
// capture would mask it: a secret a hop let slip into a reason or a path still never reaches security tooling.
import type { MoatEvent } from '../../schemas/generated/event';
import { LINK_ERRORS } from '../../hops/logic/link-errors';
import { redactSecrets } from '../../hops/events/redact';

export type FindingLevel = 'error' | 'warning';

export interface Finding {
  /** What kind of finding: the link error code (policy_denied, dlp_blocked, hop_unavailable, ...) or would_deny. */
  code: string;
  level: FindingLevel;
  chain: string;
  trace: string;
  /** The ledger event it was read from. */
  event: string;
  time: string;
  hop: number;
  hop_name: string;
  /** The policy rule that decided (denials and would-deny), `dlp` for a DLP block. */
  rule?: string;
  reason?: string;
  /** DLP blocks: the detectors that matched (their names, never what they matched). */
  detectors?: string[];
  method?: string;
  /** The request as a URI without its query. */
  url?: string;
  status?: number;
}

/** Error codes that are no finding: the agent hung up. */
const NOT_FINDINGS = new Set(['client_aborted']);
/** Denials that are warnings: the agent is told to wait, nothing was refused for what it is. */
const WARNINGS = new Set(['budget_exhausted', 'would_deny']);

export const WOULD_DENY_HELP =
  'a moat-policy rule in report mode (policy.mode: report, or the rule\u2019s own mode) would have denied the request; ' +
  'it went through';

/** What each finding code means (SARIF rule help): the link error's text, or would_deny's. */
export function findingHelp(code: string): string {
  if (code === 'would_deny') return WOULD_DENY_HELP;
  return (LINK_ERRORS as Record<string, string>)[code] ?? `the exchange failed at this boundary (${code})`;
}

/** The finding an event records, if any: response events only (the request event of a denial carries no code). */
export function findingOf(e: MoatEvent): Finding | undefined {
  if (e.direction !== 'response') return undefined;
  const decided = e.decision === 'deny' || e.decision === 'would_deny';
  if (!decided && (!e.error || NOT_FINDINGS.has(e.error))) return undefined;
  const code = e.decision === 'would_deny' ? 'would_deny' : (e.error ?? 'policy_denied');
  const f: Finding = {
    code,
    level: WARNINGS.has(code) ? 'warning' : 'error',
    chain: e.chain,
    trace: e.trace,
    event: e.id,
    time: e.time,
    hop: e.hop,
    hop_name: e.hop_name,
  };
  if (e.rule) f.rule = redactSecrets(e.rule);
  if (e.reason) f.reason = redactSecrets(e.reason);
  if (e.rule === 'dlp') {
    const detectors = dlpDetectors(e.reason);
    if (detectors.length) f.detectors = detectors;
  }
  if (e.method) f.method = e.method;
  const url = requestUri(e);
  if (url) f.url = url;
  if (e.status !== undefined) f.status = e.status;
  return f;
}

/** The findings of a list of events, in ledger order. */
export function findingsOf(events: readonly MoatEvent[]): Finding[] {
  return events.flatMap((e) => findingOf(e) ?? []);
}

/** moat-policy's DLP reason names its detectors: `request body contains github_token, aws_access_key`. */
export function dlpDetectors(reason: string | undefined): string[] {
  const m = /\bcontains ([a-z0-9_]+(?:, [a-z0-9_]+)*)$/.exec(reason ?? '');
  return m ? m[1].split(', ') : [];
}

/**
 * scheme://host[:port]/path, the query dropped, characters a URI cannot hold percent-encoded (a recorded path is the
 * request's own, and SARIF wants a valid URI); the path masked as the free text is.
 */
export function requestUri(e: Pick<MoatEvent, 'scheme' | 'host' | 'port' | 'path'>): string | undefined {
  if (!e.host) return undefined;
  const scheme = e.scheme ?? 'https';
  const defaultPort = scheme === 'https' ? 443 : 80;
  const host = e.host.includes(':') && !e.host.startsWith('[') ? `[${e.host}]` : e.host;
  const port = e.port !== undefined && e.port !== defaultPort ? `:${e.port}` : '';
  const path = redactSecrets((e.path ?? '').split('?')[0].split('#')[0]);
  const safe = path.replace(/%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~:/@!$&'()*+,;=%]/g, (c) =>
    [...Buffer.from(c)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
  return `${scheme}://${host.replace(/[^A-Za-z0-9\-._~[\]:]/g, '')}${port}${safe.startsWith('/') ? safe : `/${safe}`}`;
}
