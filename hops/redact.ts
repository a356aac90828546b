// Secrets never reach events, logs or tap output: credential header values are always
// replaced, and in `redacted` capture secret-shaped strings in bodies are masked too.

export const REDACTED = '[REDACTED]';

/** Headers whose values are credentials, always redacted. */
export const CREDENTIAL_HEADERS = new Set([
  'authorization', 'proxy-authorization', 'x-api-key', 'api-key', 'x-goog-api-key', 'cookie', 'set-cookie',
]);

export function redactHeaders(headers: Readonly<Record<string, string | string[] | undefined>>, extra: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    out[lower] = CREDENTIAL_HEADERS.has(lower) || extra.includes(lower) ? REDACTED : Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

// Shapes of secrets commonly found in agent traffic. Each match is replaced whole.
const SECRET_PATTERNS: RegExp[] = [
  /sk-ant-[A-Za-z0-9_-]{10,}/g, // Anthropic
  /sk-(?:proj-)?[A-Za-z0-9_-]{20,}/g, // OpenAI
  /AKIA[0-9A-Z]{16}/g, // AWS access key id
  /gh[pousr]_[A-Za-z0-9]{30,}/g, // GitHub
  /xox[abprs]-[A-Za-z0-9-]{10,}/g, // Slack
  /[rs]k_(?:live|test)_[A-Za-z0-9]{16,}/g, // Stripe
  /AIza[0-9A-Za-z_-]{35}/g, // Google API key
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  /(?<=(?:"|\b)(?:api[_-]?key|secret|password|token|access[_-]?token)"?\s*[:=]\s*"?)[^"\s,}]{8,}/gi,
];

export function redactSecrets(text: string): string {
  return SECRET_PATTERNS.reduce((t, re) => t.replace(re, REDACTED), text);
}
