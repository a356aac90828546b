// Values that only stand in for a secret: docs, templates and Moat's own placeholders.
// A detector's match whose value is one of these is not a finding.

// Words people put where a key goes ("your-api-key-here", "changeme", AWS's documented keys
// ending in EXAMPLE, "moat-placeholder-..."). Matched in lower, UPPER or Capitalized case only,
// so that a long random key holds one by a negligible chance.
const WORDS = [
  'changeme',
  'change_me',
  'change-me',
  'placeholder',
  'your',
  'example',
  'sample',
  'dummy',
  'redacted',
  'replaceme',
  'replace_me',
  'insert_',
  'xxxx',
];
const STAND_IN = new RegExp(
  [
    ...WORDS.flatMap((w) => [w, w.toUpperCase(), w[0].toUpperCase() + w.slice(1)]),
    String.raw`\*\*\*`,
    String.raw`\.\.\.`,
    '…',
  ].join('|'),
);

// Templated values: <your-key>, ${VAR}, $VAR, {{ var }}, %VAR%.
const TEMPLATE = /^[<{$%[]|[<>]|\$\{|\{\{|%[A-Za-z_]+%/;

// A value that is nothing but the name of what goes there: password=password, username:password@.
const BARE_NAME =
  /^(?:pass(?:word|wd)?|secret|token|api[_-]?key|key|user(?:name|id)?|null|none|undefined|true|false)$/i;

/** Whether `value` stands in for a secret rather than being one. */
export function isPlaceholder(value: string): boolean {
  return /^(.)\1*$/s.test(value) || STAND_IN.test(value) || TEMPLATE.test(value) || BARE_NAME.test(value);
}
