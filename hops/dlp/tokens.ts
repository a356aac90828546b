// Vendor API keys and tokens: each is recognised by its documented prefix and alphabet.
// Patterns are a literal prefix then one character class, so a scan is linear in the text.
import { anyOf, pattern, preceded, tokenBoundary, type Detector } from './match';

const ALNUM = 'A-Za-z0-9';
const URLSAFE = 'A-Za-z0-9_-';
/** `prefix` starting a token of `chars`. */
const token = (chars: string, prefix: string) => preceded(tokenBoundary(chars), prefix);

export const awsAccessKey = pattern(String.raw`${token(ALNUM, 'AKIA|ASIA')}(?<body>[0-9A-Z]{16})(?![${ALNUM}])`);

// Only after its variable or field name: 40 base64 characters alone are indistinguishable from
// any other hash. Covers aws_secret_access_key (ini, env), SecretAccessKey (AWS JSON), quoted or not.
export const awsSecretKey = pattern(
  String.raw`${preceded(`${tokenBoundary('A-Za-z0-9_')}(?:aws[_-]?)?`, 'secret[_-]?access[_-]?key')}` +
    String.raw`(?:\\?["'])?(?:\s{0,4}[:=]\s{0,4}|\s{1,4})(?:\\?["'])?` +
    String.raw`(?<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])`,
  'i',
);

// A key must mix letters and digits: "sk-" then a hyphenated phrase ("sk-learn-compatible-models") is prose.
const openAiShape = pattern(
  String.raw`${token(URLSAFE, 'sk-')}(?!ant-)(?:proj-|svcacct-|admin-)?(?<body>[${URLSAFE}]{20,})`,
);
export const openAiKey: Detector = (text) =>
  openAiShape(text).filter((c) => /\d/.test(c.value) && /[A-Za-z]/.test(c.value));

export const anthropicKey = pattern(
  String.raw`${token(URLSAFE, 'sk-ant-')}(?:[a-z]{3,8}\d{2}-)?(?<body>[${URLSAFE}]{20,})`,
);

export const githubToken = anyOf(
  pattern(String.raw`${token(URLSAFE, 'gh[pousr]_')}(?<body>[${ALNUM}]{36,})`),
  pattern(String.raw`${token(URLSAFE, 'github_pat_')}(?<body>[${ALNUM}_]{22,})`),
);

// Tokens are xox?- then a numeric team or user id; webhooks carry their secret in the path
// (also with JSON's optional \/ escapes).
const SLASH = String.raw`\\?/`;
export const slackToken = anyOf(
  pattern(String.raw`${token(ALNUM, 'xox[abprs]-')}(?<body>\d{1,20}-[${ALNUM}-]{8,})`),
  pattern(
    String.raw`${token(ALNUM, 'https:')}${SLASH}${SLASH}hooks\.slack\.com${SLASH}services` +
      String.raw`${SLASH}T[A-Z0-9]{6,16}${SLASH}B[A-Z0-9]{6,16}${SLASH}(?<body>[${ALNUM}]{16,})`,
  ),
  // The path alone, as a request to hooks.slack.com carries it (and records show it): the T.../B.../secret
  // shape is Slack's own, so it is recognised on any host.
  pattern(
    String.raw`${preceded(SLASH, 'services')}` +
      String.raw`${SLASH}T[A-Z0-9]{6,16}${SLASH}B[A-Z0-9]{6,16}${SLASH}(?<body>[${ALNUM}]{16,})`,
  ),
);

export const stripeKey = pattern(String.raw`${token(URLSAFE, '[rs]k_(?:live|test)_')}(?<body>[${ALNUM}]{16,})`);

export const googleApiKey = pattern(String.raw`${token(URLSAFE, 'AIza')}(?<body>[${URLSAFE}]{35})(?![${URLSAFE}])`);
