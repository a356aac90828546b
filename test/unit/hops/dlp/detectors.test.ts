// DLP detectors: for every label, secrets found with their exact span (alone, inside a JSON
// string, inside prose), ordinary text and placeholders left alone, and scans linear in the text.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DLP_DESCRIPTIONS,
  DLP_LABELS,
  findSecrets,
  maskSecrets,
  type DlpFinding,
  type DlpLabel,
} from '../../../../hops/dlp';
import { PEM_MAX_CHARS } from '../../../../hops/dlp/pem';
import { BUILTIN_GRANTS, grantDefs, placeholderFor } from '../../../../supervisor/config/grants';
import { ALNUM, BASE64, UPPER_DIGITS, fake, pemKey, randomBytes, randomChars } from '../../../helpers/fake-secrets';
import { REPO_ROOT } from '../../../helpers/repo-root';

interface Positive {
  name: string;
  secret: string;
  /** The text that holds the secret (default: the secret alone). */
  around?: (secret: string) => string;
}

const POSITIVES: Record<DlpLabel, Positive[]> = {
  aws_access_key: [
    { name: 'AKIA key id', secret: fake.awsAccessKey() },
    {
      name: 'ASIA session key id in a credentials file',
      secret: fake.awsSessionKey(),
      around: (s) => `[default]\naws_access_key_id = ${s}\n`,
    },
  ],
  aws_secret_key: [
    {
      name: 'credentials file',
      secret: fake.awsSecretKey(),
      around: (s) => `[default]\naws_secret_access_key = ${s}\nregion = eu-west-1`,
    },
    { name: 'shell export', secret: fake.awsSecretKey(), around: (s) => `export AWS_SECRET_ACCESS_KEY="${s}"` },
    {
      name: 'STS JSON',
      secret: fake.awsSecretKey(),
      around: (s) => `{"SecretAccessKey": "${s}", "Expiration": "2030-01-01T00:00:00Z"}`,
    },
  ],
  openai_key: [
    { name: 'classic key', secret: fake.openAiKey() },
    { name: 'project key in a header', secret: fake.openAiProjectKey(), around: (s) => `Authorization: Bearer ${s}` },
    {
      name: 'service account key',
      secret: 'sk' + '-svcacct-' + randomChars(ALNUM, 60) + '9',
      around: (s) => `OPENAI_API_KEY=${s}`,
    },
  ],
  anthropic_key: [
    { name: 'api03 key', secret: fake.anthropicKey() },
    { name: 'admin01 key in a header', secret: fake.anthropicAdminKey(), around: (s) => `x-api-key: ${s}` },
  ],
  github_token: [
    { name: 'classic personal token', secret: fake.githubToken('p') },
    { name: 'OAuth token', secret: fake.githubToken('o'), around: (s) => `Authorization: token ${s}` },
    { name: 'server token', secret: fake.githubToken('s') },
    { name: 'fine-grained token', secret: fake.githubFineGrained(), around: (s) => `GH_TOKEN=${s}` },
  ],
  slack_token: [
    { name: 'bot token', secret: fake.slackBotToken() },
    { name: 'webhook URL', secret: fake.slackWebhook(), around: (s) => `curl -X POST -d '{"text":"hi"}' ${s}` },
  ],
  stripe_key: [
    { name: 'live secret key', secret: fake.stripeKey('sk', 'live') },
    { name: 'test restricted key', secret: fake.stripeKey('rk', 'test'), around: (s) => `stripe.api_key = "${s}"` },
  ],
  google_api_key: [
    { name: 'key', secret: fake.googleApiKey() },
    {
      name: 'key in a query',
      secret: fake.googleApiKey(),
      around: (s) => `GET https://generativelanguage.googleapis.com/v1beta/models?key=${s}&alt=sse`,
    },
  ],
  pem_private_key: ['RSA ', 'EC ', 'OPENSSH ', 'DSA ', 'ENCRYPTED ', ''].map((kind) => ({
    name: `${kind || 'PKCS#8 '}key`,
    secret: pemKey(kind),
    around: (s: string) => `key file:\n${s}\n`,
  })),
  credential_file: [
    {
      name: '.netrc entry',
      secret: fake.password(),
      around: (s) => `machine api.example.com\n  login bob\n  password ${s}\n`,
    },
    {
      name: '.netrc line',
      secret: fake.password(),
      around: (s) => `machine git.example.org login alice password ${s}`,
    },
    {
      name: '.git-credentials line',
      secret: randomChars(ALNUM, 40),
      around: (s) => `https://bob:${s}@git.example.com\n`,
    },
    {
      name: '.pgpass line',
      secret: fake.password(),
      around: (s) => `# ~/.pgpass\ndb.example.com:5432:app:app_user:${s}\n`,
    },
    { name: '.env password', secret: fake.password(), around: (s) => `DATABASE_PASSWORD=${s}\nDEBUG=1` },
    { name: 'shell export of a token', secret: fake.password(), around: (s) => `export API_TOKEN="${s}"` },
    { name: '.env secret, single-quoted', secret: fake.password(), around: (s) => `SESSION_SECRET='${s}'` },
    { name: '.env name that is only the suffix', secret: fake.password(), around: (s) => `PASSWORD=${s}` },
  ],
};

/** The ways a body holds a text: as it is, inside a JSON string (escaped), inside a sentence. */
const CONTEXTS: { name: string; wrap: (text: string) => string; escape: (secret: string) => string }[] = [
  { name: 'alone', wrap: (t) => t, escape: (s) => s },
  {
    name: 'in a JSON string',
    wrap: (t) => JSON.stringify({ role: 'user', content: t }),
    escape: (s) => JSON.stringify(s).slice(1, -1),
  },
  { name: 'in prose', wrap: (t) => `I pasted this by mistake: ${t} -- why does the deploy fail?`, escape: (s) => s },
];

function only(text: string, label: DlpLabel, secret: string): DlpFinding[] {
  const start = text.indexOf(secret);
  expect(start, 'the test secret is in the text').to.be.at.least(0);
  return [{ label, start, end: start + secret.length }];
}

describe('DLP detectors', () => {
  describe('find each kind of secret with its exact span', () => {
    for (const label of DLP_LABELS) {
      for (const { name, secret, around = (s: string) => s } of POSITIVES[label]) {
        for (const context of CONTEXTS) {
          it(`${label}: ${name}, ${context.name}`, () => {
            const text = context.wrap(around(secret));
            expect(findSecrets(text)).to.deep.equal(only(text, label, context.escape(secret)));
          });
        }
      }
    }
  });

  describe('leave ordinary text and placeholders alone', () => {
    const negatives: Record<string, string> = {
      'prose about AWS keys':
        'Rotate the AWS key and the AWS secret access key every 90 days; aws_secret_access_key is read from ~/.aws.',
      'Stripe publishable keys': `pk_live_${randomChars(ALNUM, 24)} and pk_test_${randomChars(ALNUM, 24)}`,
      'a publishable key in .env': `NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY=pk_live_${randomChars(ALNUM, 24)}`,
      'id_rsa in a sentence': 'Copy ~/.ssh/id_rsa.pub to the server and never share id_rsa itself.',
      'sk-ant in prose': 'Keys that start with sk-ant are Anthropic keys; sk-ant-api03 is the current version.',
      'hyphenated words after sk-':
        'We use sk-learn-compatible-estimators-and-pipelines, a risk-management-framework-for-enterprises.',
      'xoxb- in prose': 'Tokens like xoxb-tokens-are-issued-to-bots are bot tokens.',
      'netrc words in prose': 'On the machine learning login page the password reset link is broken.',
      'short values':
        'API_KEY=abc123 sk-abc123 ghp_abc AKIA1234 sk_live_abc machine a.example.com login bob password pw1',
      'a key too short to be AWS': `AKIA${randomChars(UPPER_DIGITS, 15)} and AKIA${randomChars(UPPER_DIGITS, 17)}`,
      UUIDs: '550e8400-e29b-41d4-a716-446655440000 and 123e4567-e89b-12d3-a456-426614174000',
      'git SHAs': `commit ${randomBytes(20).toString('hex')} parent ${randomBytes(20).toString('hex')}`,
      'base64 of an image':
        `data:image/png;base64,` +
        `${Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), randomBytes(6000)]).toString('base64')}`,
      'a PEM header mentioned in prose':
        'A key file starts with -----BEGIN RSA PRIVATE ' + 'KEY----- and ends with the END line.',
      'a PEM example with the body elided':
        '-----BEGIN PRIVATE ' + 'KEY-----\nMIIEvQ...\n-----END PRIVATE ' + 'KEY-----',
      'all the same character':
        `sk-${'x'.repeat(48)} AKIA${'X'.repeat(16)} ` + `ghp_${'0'.repeat(36)} API_KEY=${'a'.repeat(12)}`,
      "AWS's documented example keys":
        'AKIAIOSFODNN7' + 'EXAMPLE and aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCY' + 'EXAMPLEKEY',
      'placeholders in .env':
        'OPENAI_API_KEY=<your-openai-key>\nAPI_KEY=${API_KEY}\nDB_PASSWORD=changeme\nAUTH_TOKEN=your_token_he' +
        're\nSECRET_KEY=$SECRET_KEY_FROM_VAULT',
      "moat's placeholder format": `ANTHROPIC_API_KEY=moat-placeholder-${randomChars(ALNUM, 32)}`,
      'a URL with a port and an @ in its path': 'see https://example.com:8443/docs@latest and mailto:bob@example.com',
      'five colon fields without .pgpass': `db.example.com:5432:app:app_user:${fake.password()}`,
      'JSON with token counts': '{"max_tokens": 1024, "usage": {"input_tokens": 12345678, "output_tokens": 99}}',
    };
    for (const [name, text] of Object.entries(negatives)) {
      it(name, () => {
        expect(findSecrets(text)).to.deep.equal([]);
        expect(findSecrets(JSON.stringify({ content: text }))).to.deep.equal([]);
      });
    }

    it("a chain's grant placeholders look like keys on purpose: they are passed as allowed values", () => {
      const defs = [
        ...Object.values(BUILTIN_GRANTS),
        ...grantDefs({
          grants: [{ host: 'api.github.com', header: 'authorization', env: 'GITHUB_TOKEN', prefix: 'ghp_' }],
        } as never),
      ];
      const placeholders = defs.map((def, i) => placeholderFor(def, i, 'chain-token'));
      const text = JSON.stringify({ env: placeholders.join(' ') });
      expect(findSecrets(text).map((f) => f.label)).to.deep.equal([
        'anthropic_key',
        'openai_key',
        'google_api_key',
        'github_token',
      ]);
      expect(findSecrets(text, undefined, placeholders)).to.deep.equal([]);
      expect(maskSecrets(text, undefined, placeholders)).to.equal(text);
    });
  });

  describe('findings', () => {
    it('are sorted and never overlap: the more specific label wins the same span', () => {
      const [openai, github, aws] = [fake.openAiKey(), fake.githubToken(), fake.awsAccessKey()];
      const text = `GH=https://bob:${github}@github.com/x.git\nOPENAI_API_KEY=${openai}\nid=${aws}`;
      expect(findSecrets(text)).to.deep.equal([
        ...only(text, 'github_token', github),
        ...only(text, 'openai_key', openai),
        ...only(text, 'aws_access_key', aws),
      ]);
    });

    it('can be limited to some labels', () => {
      const [github, aws] = [fake.githubToken(), fake.awsAccessKey()];
      const text = `${github} ${aws}`;
      expect(findSecrets(text, ['aws_access_key'])).to.deep.equal(only(text, 'aws_access_key', aws));
      expect(findSecrets(text, [])).to.deep.equal([]);
    });

    it('are masked as [REDACTED:<label>]', () => {
      const [anthropic, google] = [fake.anthropicKey(), fake.googleApiKey()];
      const body = JSON.stringify({ content: `keys ${anthropic} and ${google}`, note: 'ok' });
      expect(maskSecrets(body)).to.equal(
        '{"content":"keys [REDACTED:anthropic_key] and [REDACTED:google_api_key]","note":"ok"}',
      );
      expect(maskSecrets(body, ['google_api_key'])).to.equal(
        `{"content":"keys ${anthropic} and [REDACTED:google_api_key]","note":"ok"}`,
      );
    });

    it('find a Slack webhook URL with JSON-escaped slashes', () => {
      const url = fake.slackWebhook().replace(/\//g, '\\/');
      const text = `{"url":"${url}"}`;
      expect(findSecrets(text)).to.deep.equal(only(text, 'slack_token', url));
    });

    it('cover a PEM key without its END line to the end of the text, or PEM_MAX_CHARS', () => {
      const cut = pemKey('RSA ').slice(0, 500);
      expect(findSecrets(`"${cut}`)).to.deep.equal([{ label: 'pem_private_key', start: 1, end: cut.length + 1 }]);
      const long = pemKey('', 400).replace(/-----END[^]*$/, '');
      expect(long.length).to.be.above(PEM_MAX_CHARS);
      expect(findSecrets(long)).to.deep.equal([{ label: 'pem_private_key', start: 0, end: PEM_MAX_CHARS }]);
    });
  });

  it('every label has a one-line description, and docs/configuration.md lists them all', () => {
    expect(Object.keys(DLP_DESCRIPTIONS)).to.deep.equal([...DLP_LABELS]);
    for (const label of DLP_LABELS) expect(DLP_DESCRIPTIONS[label]).to.match(/^[^\n|]{10,200}$/);
    const doc = readFileSync(join(REPO_ROOT, 'docs', 'configuration.md'), 'utf8');
    const rows = [...doc.matchAll(/^\| `([a-z_]+)` \| (.+) \|$/gm)].filter((m) =>
      (DLP_LABELS as string[]).includes(m[1]),
    );
    expect(rows.map((m) => [m[1], m[2]])).to.deep.equal(DLP_LABELS.map((label) => [label, DLP_DESCRIPTIONS[label]]));
  });

  describe('scan 1 MiB in time linear in its size', () => {
    const MiB = 1 << 20;
    const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('') + '\n\n';
    const nearMisses = [
      'AKIA' + 'B'.repeat(15) + ' ',
      'sk-',
      'sk-ant-',
      'ghp_' + 'a'.repeat(35) + ' ',
      'xoxb-1-',
      'AIza',
      'sk_live_',
      'github_pat_',
      '-----BEGIN RSA PRIVATE ' + 'KEY-----\n',
      '-----BEGIN A B C D E ',
      'aws_secret_access_key = abc ',
      'machine a.example.com login u password x ',
      'https://u:p',
      'A_KEY=',
      'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA_KEY ',
      'a.b:5432:db:user: .pgpass ',
      'https://hooks.slack.com/services/T0123456/B',
      '\\n',
      ' ',
    ];
    const bodies: Record<string, string> = {
      'random printable text': randomChars(printable, MiB),
      'random letters and digits': randomChars(ALNUM, MiB),
      'random base64': randomChars(BASE64, MiB),
      ...Object.fromEntries(
        nearMisses.map((n) => [
          `repeated ${JSON.stringify(n.slice(0, 24))}`,
          n.repeat(Math.ceil(MiB / n.length)).slice(0, MiB),
        ]),
      ),
    };
    for (const [name, body] of Object.entries(bodies)) {
      it(name, () => {
        const started = Date.now();
        findSecrets(body);
        expect(Date.now() - started).to.be.below(2000);
      });
    }
  });
});

describe('DLP labels and the schema', () => {
  it('DLP_LABELS are exactly the labels policy.dlp.detectors accepts', () => {
    const schema = require(join(REPO_ROOT, 'schemas', 'chain-config.schema.json'));
    expect([...DLP_LABELS].sort()).to.deep.equal(
      [...schema.properties.policy.properties.dlp.properties.detectors.items.enum].sort(),
    );
  });
});
