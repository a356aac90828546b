// Fake secrets of every DLP shape, built at run time from a seeded generator: the repository
// holds no string a secret scanner would flag, and every run sees the same values.

export const UPPER_DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
export const ALNUM = `${UPPER_DIGITS}abcdefghijklmnopqrstuvwxyz`;
export const URLSAFE = `${ALNUM}-_`;
export const BASE64 = `${ALNUM}+/`;
const DIGITS = '0123456789';

let state = 0x5eed;

/** The next of a fixed sequence of pseudo-random numbers in [0, 1) (mulberry32). */
function next(): number {
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

export function randomChars(alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(next() * alphabet.length)];
  return out;
}

export function randomBytes(length: number): Buffer {
  return Buffer.from(Array.from({ length }, () => Math.floor(next() * 256)));
}

/** Lines of a PEM block: `kind` is '' (PKCS#8), 'RSA ', 'EC ', 'OPENSSH ', 'DSA ', 'ENCRYPTED '. */
export function pemKey(kind = 'RSA ', lines = 12, newline = '\n'): string {
  const label = `${kind}PRIVATE` + ' KEY';
  const body = Array.from({ length: lines }, () => randomChars(BASE64, 64));
  body.push(randomChars(BASE64, 20) + '==');
  return [`-----BEGIN ${label}-----`, ...body, `-----END ${label}-----`].join(newline);
}

export const fake = {
  awsAccessKey: () => 'AK' + 'IA' + randomChars(UPPER_DIGITS, 16),
  awsSessionKey: () => 'AS' + 'IA' + randomChars(UPPER_DIGITS, 16),
  awsSecretKey: () => randomChars(BASE64, 40),
  // Classic keys are 48 letters and digits; one digit for sure, as every real key has in practice.
  openAiKey: () => 'sk' + '-' + randomChars(ALNUM, 30) + '7' + randomChars(ALNUM, 17),
  openAiProjectKey: () => 'sk' + '-proj-' + randomChars(URLSAFE, 120) + '4' + randomChars(URLSAFE, 35),
  anthropicKey: () => 'sk' + '-ant-api03-' + randomChars(URLSAFE, 93) + 'AA',
  anthropicAdminKey: () => 'sk' + '-ant-admin01-' + randomChars(URLSAFE, 93) + 'AA',
  githubToken: (kind = 'p') => 'gh' + kind + '_' + randomChars(ALNUM, 36),
  githubFineGrained: () => 'github' + '_pat_' + randomChars(ALNUM, 22) + '_' + randomChars(ALNUM, 59),
  slackBotToken: () =>
    'xo' + 'xb-' + randomChars(DIGITS, 12) + '-' + randomChars(DIGITS, 13) + '-' + randomChars(ALNUM, 24),
  slackWebhook: () =>
    'https://hooks.slack.com/' +
    'services/T' +
    randomChars(UPPER_DIGITS, 10) +
    '/B' +
    randomChars(UPPER_DIGITS, 10) +
    '/' +
    randomChars(ALNUM, 24),
  stripeKey: (kind = 'sk', mode = 'live') => kind + '_' + mode + '_' + randomChars(ALNUM, 24),
  googleApiKey: () => 'AI' + 'za' + randomChars(URLSAFE, 35),
  password: () => randomChars(ALNUM, 14) + '!',
};
