// Contents of credential files read or pasted into a body: .netrc entries, user:password@
// URLs (.git-credentials lines, database and proxy URLs), .pgpass lines and .env secrets.
// Each finding is the secret value alone; the names around it stay readable.
import { anyOf, pattern, preceded, tokenBoundary, type Detector } from './match';

// Values shorter than this are too often words, ids or flags to call them secrets.
const MIN = 8;

// .netrc tokens are separated by any whitespace; inside JSON a line break is an escaped \n.
const SEP = String.raw`(?:[ \t\r\n]|\\[nrt]){1,16}`;
const WORD = String.raw`[^\s\\"']{1,128}`;
// A machine name with a dot (or localhost), so that "machine learning login page password reset" is prose.
const HOST = String.raw`(?:[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}|localhost)`;
const NETRC_FIELD = String.raw`${SEP}(?:login|account|port)${SEP}${WORD}`;
const NETRC_PASSWORD = String.raw`${SEP}password${SEP}(?<secret>[^\s\\"']{${MIN},256})`;
// The default entry ("default login anonymous password ...") needs a login: "default" is a common word.
const netrc = anyOf(
  pattern(
    String.raw`${preceded(tokenBoundary('A-Za-z0-9_'), 'machine')}${SEP}${HOST}` +
      String.raw`(?:${NETRC_FIELD}){0,3}${NETRC_PASSWORD}`,
  ),
  pattern(String.raw`${preceded(tokenBoundary('A-Za-z0-9_'), 'default')}(?:${NETRC_FIELD}){1,3}${NETRC_PASSWORD}`),
);

// scheme://user:password@host, also with JSON's \/ escapes. An '@' inside the password ends it
// early. A placeholder user marks an example too ("your-name:abcdef123@...").
const USERINFO = String.raw`[^\s:/@"'\\]`;
const urlCredential = pattern(
  String.raw`${preceded(`${tokenBoundary('A-Za-z0-9+.-')}[A-Za-z][A-Za-z0-9+.-]{0,15}`, String.raw`:\\?/\\?/`)}` +
    String.raw`(?<context>${USERINFO}{0,128}):(?<secret>${USERINFO}{${MIN},256})@[A-Za-z0-9[]`,
);

// host:port:database:user:password, each line starting a line, a string or a word. Only when
// the body names .pgpass: elsewhere five colon-separated fields are too common (logs, IPv6, times).
const pgpassLine = pattern(
  String.raw`(?:^|(?<=[\s"'\x60]|\\[nrt]))[A-Za-z0-9.*_-]{1,253}:(?:\d{1,5}|\*):` +
    String.raw`[^\s:\\"']{1,63}:[^\s:\\"']{1,63}:(?<secret>[^\s\\"']{${MIN},256})`,
);
const pgpass: Detector = (text) => (text.includes('.pgpass') ? pgpassLine(text) : []);

// NAME=value lines of .env files and shell exports, NAME in capitals ending in KEY, SECRET, TOKEN,
// PASSWORD or PASSWD (lower-case names are code more often than config). Names with PUBLIC in
// them hold values meant to be public (NEXT_PUBLIC_..._KEY, a Stripe publishable key).
const ENV_NAME =
  preceded(`${tokenBoundary('A-Za-z0-9_$.-')}(?:[A-Z][A-Z0-9_]{0,62})?`, '(?:KEY|SECRET|TOKEN|PASSWORD|PASSWD)=') +
  String.raw`(?<!PUBLI[A-Z0-9_]{0,62}=)`;
const envQuoted = pattern(String.raw`${ENV_NAME}\\?["'](?<secret>[^"'\\\r\n]{${MIN},})`);
const envBare = pattern(String.raw`${ENV_NAME}(?<secret>[^\s"'\x60\\;&|<>(){}#,]{${MIN},})`);

export const credentialFile = anyOf(netrc, urlCredential, pgpass, envQuoted, envBare);
