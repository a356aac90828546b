// grants: in moat.yaml: config errors, the keys from the supervisor's environment, placeholder
// formats, and where a plan puts grants (egress), placeholders (agent, third-party hops) and keys (nowhere).
import { expect } from 'chai';
import { parseConfig } from '../../../../supervisor/config/load';
import { MoatError } from '../../../../supervisor/errors';
import {
  BUILTIN_GRANTS,
  grantDefs,
  placeholderFor,
  readGrantKeys,
  egressKeyEnv,
} from '../../../../supervisor/config/grants';
import { displayPlan } from '../../../../supervisor/chain/plan';
import { stateLayout } from '../../../../supervisor/chain/state';
import { planFromYaml } from '../../../helpers/plan-from-yaml';
import { agentEnv } from '../../../../supervisor/commands/env';

function errorOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof MoatError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected an error');
}

const CONFIG_CASES: { name: string; yaml: string; code: string; message: string }[] = [
  {
    name: 'unknown built-in grant, with a suggestion',
    yaml: 'proxies: []\ngrants:\n  - antropic\n',
    code: 'MOAT_ERR_GRANT_INVALID',
    message:
      'moat.yaml:3:5: grants[0]: unknown grant "antropic" (did you mean "anthropic"?) (known: anthropic, ' +
      'openai, gemini; any other API needs the form {host, header, format, env})',
  },
  {
    name: 'the same host granted twice',
    yaml: 'proxies: []\ngrants:\n  - openai\n  - { host: API.openai.com, header: authorization, env: MY_OPENAI_KEY }\n',
    code: 'MOAT_ERR_GRANT_INVALID',
    message: 'moat.yaml:4:5: grants[1]: host api.openai.com is already granted by grants[0]; one credential per host',
  },
  {
    name: 'two grants sharing a variable',
    yaml: 'proxies: []\ngrants:\n  - gemini\n  - { host: x.example.com, header: x-key, env: GOOGLE_API_KEY }\n',
    code: 'MOAT_ERR_GRANT_INVALID',
    message: 'moat.yaml:4:5: grants[1]: env GOOGLE_API_KEY already holds the placeholder of grants[0]',
  },
  {
    name: 'a variable moat sets itself',
    yaml: 'proxies: []\ngrants:\n  - { host: x.example.com, header: x-key, env: https_proxy }\n',
    code: 'MOAT_ERR_GRANT_INVALID',
    message:
      'moat.yaml:3:5: grants[0]: env https_proxy is set by moat itself; name the variable your client reads ' +
      'the key from',
  },
  {
    name: 'generic grant without env',
    yaml: 'proxies: []\ngrants:\n  - { host: x.example.com, header: x-key }\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message: 'moat.yaml:3:5: grants[0]: missing required key "env"',
  },
  {
    name: 'format without {key}',
    yaml:
      'proxies: []\ngrants:\n  - host: x.example.com\n    header: authorization\n    format: Bearer\n    env: ' +
      'X_KEY\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message: 'moat.yaml:5:13: grants[0].format: "Bearer" does not match \\{key\\}',
  },
  {
    name: 'unknown key in a generic grant',
    yaml: 'proxies: []\ngrants:\n  - { host: x.example.com, header: x-key, env: X_KEY, value: secret }\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message: 'moat.yaml:3:55: grants[0].value: unknown key "value" (known: host, header, format, env, prefix)',
  },
  {
    name: 'a grant of the wrong type',
    yaml: 'proxies: []\ngrants:\n  - 7\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message: 'moat.yaml:3:5: grants[0]: expected a string or object, got integer 7',
  },
];

const YAML = `name: g
proxies:
  - moat-telemetry
  - name: recorder
    command: [rec, --port, "{port}"]
    env:
      OPENAI_API_KEY: "sk-hop-config-would-be-overridden"
      OTHER: kept
  - moat-policy
grants:
  - anthropic
  - openai
  - gemini
  - host: "*.example.com"
    header: X-Token
    format: "Token {key}"
    env: EXAMPLE_TOKEN
    prefix: ex_
`;
const REAL = {
  ANTHROPIC_API_KEY: 'sk-ant-api03-REALKEY-anthropic-0123456789',
  OPENAI_API_KEY: 'sk-REALKEY-openai-0123456789',
  GOOGLE_API_KEY: 'AIzaREALKEY-google-0123456789',
  EXAMPLE_TOKEN: 'ex_REALKEY-example-0123456789abcdef',
};

function plan(token = 'TOKEN', keys: string[] = Object.values(REAL), yaml = YAML) {
  return planFromYaml(yaml, 'g', { file: 'moat.yaml', token, portBase: 40000, grantKeys: keys });
}

describe('grants', () => {
  describe('config errors name file:line:column', () => {
    for (const c of CONFIG_CASES) {
      it(c.name, () => {
        const err = errorOf(() => parseConfig(c.yaml, 'moat.yaml'));
        expect(err.code).to.equal(c.code);
        expect(err.message).to.equal(c.message);
      });
    }

    it('built-in names and the generic form resolve to hosts, headers and variables', () => {
      const defs = grantDefs(parseConfig(YAML, 'moat.yaml').config);
      expect(defs.map((d) => [d.name, d.host, d.header, d.format, d.env.join('|')])).to.deep.equal([
        ['anthropic', 'api.anthropic.com', 'x-api-key', '{key}', 'ANTHROPIC_API_KEY'],
        ['openai', 'api.openai.com', 'authorization', 'Bearer {key}', 'OPENAI_API_KEY'],
        ['gemini', 'generativelanguage.googleapis.com', 'x-goog-api-key', '{key}', 'GEMINI_API_KEY|GOOGLE_API_KEY'],
        ['*.example.com', '*.example.com', 'x-token', 'Token {key}', 'EXAMPLE_TOKEN'],
      ]);
    });
  });

  describe("keys from the supervisor's environment", () => {
    const loaded = () => parseConfig(YAML, 'moat.yaml');

    it('reads each key, gemini from GEMINI_API_KEY or else GOOGLE_API_KEY', () => {
      const l = loaded();
      expect(readGrantKeys(l.config, l.where, REAL)).to.deep.equal(Object.values(REAL));
      expect(readGrantKeys(l.config, l.where, { ...REAL, GEMINI_API_KEY: 'AIzaGEMINI' })[2]).to.equal('AIzaGEMINI');
    });

    it('a missing or empty variable is an error naming the grant, the variable and the line', () => {
      const l = loaded();
      const err = errorOf(() =>
        readGrantKeys(l.config, l.where, { ...REAL, OPENAI_API_KEY: '', GOOGLE_API_KEY: undefined }),
      );
      expect(err.code).to.equal('MOAT_ERR_GRANT_KEY');
      expect(err.message.split('\n')).to.deep.equal([
        'moat.yaml:12:5: grants[1] (openai): OPENAI_API_KEY is not set and the grant store has no key for ' +
          'api.openai.com; store it with `moat grant add openai` or export it in the environment of `moat chain up` ' +
          '(only egress receives it; the agent and hops get a placeholder)',
        'moat.yaml:13:5: grants[2] (gemini): GEMINI_API_KEY or GOOGLE_API_KEY is not set and the grant store has ' +
          'no key for generativelanguage.googleapis.com; store it with `moat grant add gemini` or export it in the ' +
          'environment of `moat chain up` (only egress receives it; the agent and hops get a placeholder)',
      ]);
    });

    it('the grant store is asked only for a key the environment lacks, and the environment wins', () => {
      const l = loaded();
      const asked: string[] = [];
      const stored = (def: { host: string }) => {
        asked.push(def.host);
        return { key: `stored-${def.host}`, from: 'the store' };
      };
      const keys = readGrantKeys(l.config, l.where, { ...REAL, OPENAI_API_KEY: '' }, [], stored);
      expect(keys).to.deep.equal([REAL.ANTHROPIC_API_KEY, 'stored-api.openai.com', ...Object.values(REAL).slice(2)]);
      expect(asked).to.deep.equal(['api.openai.com']);
    });

    it('a stored key is checked like one from the environment (placeholder, control characters)', () => {
      const l = loaded();
      const err = errorOf(() =>
        readGrantKeys(l.config, l.where, { ...REAL, OPENAI_API_KEY: '' }, ['sk-placeholder'], (def) =>
          def.host === 'api.openai.com'
            ? { key: 'sk-placeholder', from: 'the grant store\'s entry "openai"' }
            : undefined,
        ),
      );
      expect(err.code).to.equal('MOAT_ERR_GRANT_KEY');
      expect(err.message).to.contain('the grant store\'s entry "openai" holds a moat placeholder');
    });

    it('a key with spaces or control characters is refused', () => {
      const l = loaded();
      const err = errorOf(() => readGrantKeys(l.config, l.where, { ...REAL, ANTHROPIC_API_KEY: 'sk-ant key\n' }));
      expect(err.message).to.equal(
        'moat.yaml:11:5: grants[0] (anthropic): ANTHROPIC_API_KEY holds spaces or control characters; a key ' +
          'is one word of printable characters',
      );
    });

    it('a placeholder of a previous `up` (a shell that ran `moat chain env`) is not taken for a key', () => {
      const l = loaded();
      const previous = plan('OLD-TOKEN').placeholders!;
      const err = errorOf(() =>
        readGrantKeys(
          l.config,
          l.where,
          { ...REAL, ANTHROPIC_API_KEY: previous.ANTHROPIC_API_KEY },
          Object.values(previous),
        ),
      );
      expect(err.message).to.contain(
        'grants[0] (anthropic): ANTHROPIC_API_KEY holds a moat placeholder (from `moat chain env`), not the real key',
      );
    });
  });

  describe('placeholders', () => {
    const SHAPES: [string, RegExp][] = [
      ['anthropic', /^sk-ant-api03-[A-Za-z0-9_-]{93}AA$/],
      ['openai', /^sk-[A-Za-z0-9]{48}$/],
      ['gemini', /^AIza[A-Za-z0-9_-]{35}$/],
    ];
    for (const [name, shape] of SHAPES) {
      it(`${name}: the provider's key format (prefix, length, alphabet)`, () => {
        for (const seed of ['a', 'b', 'c', 'TOKEN'])
          expect(placeholderFor(BUILTIN_GRANTS[name], 0, seed)).to.match(shape);
      });
    }

    it(
      'generic: the prefix, then letters and digits up to the ' + "real key's length (at least 16 after the prefix)",
      () => {
        const def = grantDefs(parseConfig(YAML, 'moat.yaml').config)[3];
        expect(placeholderFor(def, 3, 's', ['', '', '', REAL.EXAMPLE_TOKEN])).to.match(
          new RegExp(`^ex_[A-Za-z0-9]{${REAL.EXAMPLE_TOKEN.length - 3}}$`),
        );
        expect(placeholderFor(def, 3, 's', ['', '', '', 'ex_short'])).to.match(/^ex_[A-Za-z0-9]{16}$/);
        expect(placeholderFor(def, 3, 's')).to.match(/^ex_[A-Za-z0-9]{37}$/);
      },
    );

    it('the same for the same token, new for another token', () => {
      expect(plan('T1').placeholders).to.deep.equal(plan('T1').placeholders);
      const [a, b] = [plan('T1').placeholders!, plan('T2').placeholders!];
      for (const v of Object.keys(a)) expect(a[v], v).to.not.equal(b[v]);
    });

    it('never contains a real key, however short', () => {
      const def = grantDefs(parseConfig(YAML, 'moat.yaml').config)[3];
      for (const key of ['a', 'Z9', '0', 'w', 'q1']) {
        for (const seed of ['s1', 's2', 's3'])
          expect(placeholderFor(def, 3, seed, ['', '', '', key])).to.not.contain(key);
      }
      // A key inside the prefix can never be avoided: refused, not silently leaked.
      const err = errorOf(() => placeholderFor(def, 3, 's', ['', '', '', 'ex']));
      expect(err).to.deep.equal({
        code: 'MOAT_ERR_GRANT_KEY',
        message: 'grants[3] (*.example.com): the key is too short to be told apart from a placeholder',
      });
    });
  });

  describe('in the plan', () => {
    it("egress knows each grant and its placeholder, not the key; the key variable is egress's alone", () => {
      const p = plan();
      const egress = p.processes.find((x) => x.role === 'egress')!;
      expect(egress.spec!.egress!.grants!.map((g) => [g.name, g.host, g.header, g.keyEnv])).to.deep.equal([
        ['anthropic', 'api.anthropic.com', 'x-api-key', 'MOAT_GRANT_0'],
        ['openai', 'api.openai.com', 'authorization', 'MOAT_GRANT_1'],
        ['gemini', 'generativelanguage.googleapis.com', 'x-goog-api-key', 'MOAT_GRANT_2'],
        ['*.example.com', '*.example.com', 'x-token', 'MOAT_GRANT_3'],
      ]);
      expect(egressKeyEnv(egress, Object.values(REAL))).to.deep.equal({
        MOAT_GRANT_0: REAL.ANTHROPIC_API_KEY,
        MOAT_GRANT_1: REAL.OPENAI_API_KEY,
        MOAT_GRANT_2: REAL.GOOGLE_API_KEY,
        MOAT_GRANT_3: REAL.EXAMPLE_TOKEN,
      });
      for (const other of p.processes.filter((x) => x.role !== 'egress'))
        expect(egressKeyEnv(other, Object.values(REAL))).to.deep.equal({});
    });

    it('no real key anywhere in the plan, shown or not', () => {
      const p = plan('a'.repeat(64));
      for (const text of [JSON.stringify(p), JSON.stringify(displayPlan(p, 'a'.repeat(64)))]) {
        for (const key of Object.values(REAL)) expect(text).to.not.contain(key);
      }
    });

    it('every third-party hop gets the placeholders, over its own config for the same variables', () => {
      const p = plan();
      const hop = p.processes.find((x) => x.role === 'third-party')!;
      expect(hop.env).to.include({ ...p.placeholders, OTHER: 'kept' });
      expect(hop.env!.OPENAI_API_KEY).to.match(/^sk-[A-Za-z0-9]{48}$/);
      expect(Object.keys(p.placeholders!)).to.deep.equal([
        'ANTHROPIC_API_KEY',
        'OPENAI_API_KEY',
        'GEMINI_API_KEY',
        'GOOGLE_API_KEY',
        'EXAMPLE_TOKEN',
      ]);
      expect(p.placeholders!.GEMINI_API_KEY).to.equal(p.placeholders!.GOOGLE_API_KEY);
    });

    it("the agent's environment carries the placeholders", () => {
      const p = plan();
      const env = agentEnv(stateLayout('g', '/h'), p.ingressPort, 'tok', p.placeholders);
      expect(env).to.include(p.placeholders!);
      expect(env.HTTPS_PROXY).to.equal(`http://moat:tok@127.0.0.1:${p.ingressPort}`);
    });

    it("a generic grant's header is redacted in the events of every recording process", () => {
      const p = plan();
      const recording = p.processes.filter((x) => x.spec?.events);
      expect(recording.length).to.be.greaterThan(2);
      for (const x of recording) expect(x.spec!.events!.redactHeaders, x.id).to.deep.equal(['x-token']);
    });

    it('recording processes that capture bodies get the placeholders, which DLP leaves in event bodies', () => {
      const p = plan('TOKEN', Object.values(REAL), `${YAML}capture:\n  bodies: full\n`);
      const recording = p.processes.filter((x) => x.spec?.events);
      expect(recording.length).to.be.greaterThan(2);
      const distinct = [...new Set(Object.values(p.placeholders!))];
      for (const x of recording) expect(x.spec!.events!.placeholders, x.id).to.deep.equal(distinct);
      // Without body capture there is nothing to leave alone.
      for (const x of plan().processes.filter((y) => y.spec?.events))
        expect(x.spec!.events, x.id).to.not.have.property('placeholders');
    });

    it('without grants the plan has no placeholders and egress no grants', () => {
      const p = planFromYaml('proxies: [moat-telemetry]\n', 'd', { portBase: 0 });
      expect(p).to.not.have.property('placeholders');
      expect(p.processes.at(-1)!.spec!.egress).to.not.have.property('grants');
    });
  });
});
