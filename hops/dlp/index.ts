// Data-loss prevention detectors (pure): where a text holds a secret, and the text with each
// one masked. One definition of secret shapes, used by capture redaction and by events.
// Detectors live in ./dlp/, one file per family; this table names them.
import type { Detector } from './match';
import { isPlaceholder } from './placeholders';
import { applyMasks, nonOverlapping } from './spans';
import {
  anthropicKey,
  awsAccessKey,
  awsSecretKey,
  githubToken,
  googleApiKey,
  openAiKey,
  slackToken,
  stripeKey,
} from './tokens';
import { pemPrivateKey } from './pem';
import { credentialFile } from './credential-files';
import { decodedViews, originalSpan, type ReadOptions } from './decoded-views';
import type { ChainConfig } from '../../schemas/generated/chain-config';

/**
 * The detectors' labels: the enum of policy.dlp.detectors in the schema (one list; a test checks DLP_LABELS against
 * it).
 */
export type DlpLabel = NonNullable<NonNullable<NonNullable<ChainConfig['policy']>['dlp']>['detectors']>[number];

export interface DlpFinding {
  label: DlpLabel;
  /** Offsets into the scanned text: text.slice(start, end) is the secret. */
  start: number;
  end: number;
}

// In this order: when two detectors find the very same span, the earlier (more specific) label wins.
const DETECTORS: Readonly<Record<DlpLabel, { detect: Detector; description: string }>> = {
  aws_access_key: {
    detect: awsAccessKey,
    description: 'AWS access key id (AKIA... or ASIA... and 16 upper-case letters or digits)',
  },
  aws_secret_key: {
    detect: awsSecretKey,
    description: 'AWS secret access key (the 40-character value given to aws_secret_access_key or SecretAccessKey)',
  },
  openai_key: {
    detect: openAiKey,
    description: 'OpenAI API key (sk-, sk-proj-, sk-svcacct-, sk-admin- and 20 or more characters)',
  },
  anthropic_key: {
    detect: anthropicKey,
    description: 'Anthropic API key (sk-ant-api03-..., sk-ant-admin01-... and 20 or more characters)',
  },
  github_token: {
    detect: githubToken,
    description: 'GitHub token (ghp_, gho_, ghu_, ghs_, ghr_ and 36 characters; fine-grained github_pat_...)',
  },
  slack_token: {
    detect: slackToken,
    description:
      'Slack token (xoxa-, xoxb-, xoxp-, xoxr-, xoxs-) or incoming webhook URL ' +
      '(https://hooks.slack.com/services/T.../B.../..., or its path /services/T.../B.../... alone)',
  },
  stripe_key: {
    detect: stripeKey,
    description:
      'Stripe secret or restricted key (sk_live_, rk_live_, sk_test_, rk_test_; publishable pk_ keys are not secrets)',
  },
  google_api_key: { detect: googleApiKey, description: 'Google API key (AIza and 35 characters)' },
  pem_private_key: {
    detect: pemPrivateKey,
    description: 'PEM private key (-----BEGIN ... PRIVATE KEY----- through its END line)',
  },
  credential_file: {
    detect: credentialFile,
    description:
      'credential file contents: .netrc password, user:password@ in a URL (.git-credentials), .pgpass line, ' +
      '.env value of a NAME ending in KEY, SECRET, TOKEN, PASSWORD or PASSWD',
  },
};

export const DLP_LABELS: readonly DlpLabel[] = Object.freeze(Object.keys(DETECTORS) as DlpLabel[]);

/** A one-line description per label, for docs and errors. */
export const DLP_DESCRIPTIONS: Readonly<Record<DlpLabel, string>> = Object.freeze(
  Object.fromEntries(DLP_LABELS.map((label) => [label, DETECTORS[label].description])) as Record<DlpLabel, string>,
);

/**
 * Characters past a cut that findSecrets must see to recognise every secret starting before
 * the cut. The longest context a detector needs is under 1 000 characters (a PEM header with
 * encryption headers before the base64); a token's value is masked whole once recognised.
 */
export const DLP_LOOKAHEAD = 1024;

/**
 * Every secret in text, sorted by start, non-overlapping (earliest wins, then longest); only the
 * given labels (default all). `allowed` values are never findings: a chain's grant placeholders
 * have the providers' key formats on purpose, so their shape alone cannot tell them apart.
 */
export function findSecrets(
  text: string,
  labels: readonly DlpLabel[] = DLP_LABELS,
  allowed: readonly string[] = [],
): DlpFinding[] {
  const found: DlpFinding[] = [];
  for (const label of DLP_LABELS) {
    if (!labels.includes(label)) continue;
    for (const c of DETECTORS[label].detect(text)) {
      if (
        isPlaceholder(c.value) ||
        (c.context !== undefined && isPlaceholder(c.context)) ||
        allowed.includes(text.slice(c.start, c.end))
      )
        continue;
      found.push({ label, start: c.start, end: c.end });
    }
  }
  return nonOverlapping(found);
}

/** The marker a finding is replaced by. */
export function dlpMarker(label: DlpLabel): string {
  return `[REDACTED:${label}]`;
}

/** text with each finding replaced by `[REDACTED:<label>]`. */
export function maskSecrets(
  text: string,
  labels: readonly DlpLabel[] = DLP_LABELS,
  allowed: readonly string[] = [],
): string {
  return applyMasks(
    text,
    findSecrets(text, labels, allowed).map((f) => ({ ...f, marker: dlpMarker(f.label) })),
  );
}

/** Findings of findSecretsDecoded, and whether the whole text could be read within the bounds. */
export interface DecodedFindings {
  /** Spans of the ORIGINAL text (a secret found in a decoded view is its encoded span), sorted, non-overlapping. */
  findings: DlpFinding[];
  complete: boolean;
  reason?: string;
}

/**
 * Every secret a server could read out of text: the text itself and its decoded views (JSON escapes,
 * percent-encoding, base64, UTF-16; hops/dlp/decoded-views.ts). `form`: text is a form body or a query.
 */
export function findSecretsDecoded(
  text: string,
  labels: readonly DlpLabel[] = DLP_LABELS,
  allowed: readonly string[] = [],
  options: ReadOptions = {},
): DecodedFindings {
  // The shortest finding is 12 characters (an .env line NAME_KEY=8chars); most header values are shorter or the same
  // every request (user-agent, anthropic-beta): both cost nothing.
  if (text.length < MIN_FINDING) return NOTHING;
  if (text.length > MEMO_MAX_CHARS || options.bounds) return readDecoded(text, labels, allowed, options);
  const memo = memoFor(labels, allowed, options.form === true);
  let found = memo.get(text);
  if (!found) {
    if (memo.size >= MEMO_ENTRIES) memo.clear();
    found = readDecoded(text, labels, allowed, options);
    Object.freeze(found.findings);
    memo.set(text, found);
  }
  return found;
}

/**
 * The remembered readings for one way of reading (labels, allowed values, form): keyed by the text alone, so a
 * lookup hashes the value and nothing else (one key string of all four per header cost more than the reading it
 * saved). The usual way (all labels, nothing allowed) has maps of its own; others are found by a short key.
 */
function memoFor(labels: readonly DlpLabel[], allowed: readonly string[], form: boolean): Map<string, DecodedFindings> {
  if (labels === DLP_LABELS && allowed.length === 0) return form ? plainFormMemo : plainMemo;
  // DLP_LABELS is frozen: its identity stands for its contents. Other lists are read by value on every call.
  const key = `${form ? 1 : 0}\0${labels === DLP_LABELS ? '*' : labels.join(',')}\0${allowed.join('\n')}`;
  let memo = memos.get(key);
  if (!memo) {
    if (memos.size >= MEMO_WAYS) memos.clear();
    memo = new Map();
    memos.set(key, memo);
  }
  return memo;
}

const MIN_FINDING = 12;
const NOTHING: DecodedFindings = Object.freeze({
  findings: Object.freeze([]) as unknown as DlpFinding[],
  complete: true,
});
const MEMO_MAX_CHARS = 1024;
const MEMO_ENTRIES = 1024;
// Ways of reading other than the usual one: a chain's placeholders, a hop's detectors (a handful per process).
const MEMO_WAYS = 16;
const plainMemo = new Map<string, DecodedFindings>();
const plainFormMemo = new Map<string, DecodedFindings>();
const memos = new Map<string, Map<string, DecodedFindings>>();

function readDecoded(
  text: string,
  labels: readonly DlpLabel[],
  allowed: readonly string[],
  options: ReadOptions,
): DecodedFindings {
  const reading = decodedViews(text, options);
  const found: DlpFinding[] = [];
  let unread: string | undefined;
  for (const view of reading.views) {
    let inView: DlpFinding[];
    try {
      inView = findSecrets(view.text, labels, allowed);
    } catch (err) {
      // V8's regular expressions give up on some runs of megabytes (a key prefix and millions of letters after it):
      // that view is not read, and the reading says so (policy.oversize decides, as for any body DLP cannot read).
      if (!(err instanceof RangeError)) throw err;
      unread = `a run of characters too long for DLP's patterns (${view.text.length} characters)`;
      continue;
    }
    for (const f of inView) found.push({ label: f.label, ...originalSpan(view, f.start, f.end) });
  }
  const reason = unread ?? reading.reason;
  return {
    findings: nonOverlapping(found),
    complete: reading.complete && unread === undefined,
    ...(reason ? { reason } : {}),
  };
}

/** text with every finding of findSecretsDecoded masked (in its encoded form where it was encoded). */
export function maskSecretsDecoded(text: string, allowed: readonly string[] = [], options: ReadOptions = {}): string {
  return applyMasks(
    text,
    findSecretsDecoded(text, DLP_LABELS, allowed, options).findings.map((f) => ({ ...f, marker: dlpMarker(f.label) })),
  );
}
