// One invalid config per failure case, with the exact error text the user sees.
import { expect } from 'chai';
import { parseConfig, loadConfigFile } from '../../../../supervisor/config/load';
import { MoatError } from '../../../../supervisor/errors';

function errorOf(text: string): { code: string; message: string } {
  try {
    parseConfig(text, 'moat.yaml');
  } catch (err) {
    if (err instanceof MoatError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected the config to be rejected');
}

const CASES: { name: string; yaml: string; code: string; message: string }[] = [
  {
    name: 'a third-party hop named like the link in front of it',
    yaml: 'proxies:\n  - name: link\n    command: [px]\n',
    code: 'MOAT_ERR_UNKNOWN_HOP',
    message:
      'moat.yaml:2:5: proxies[0]: the name "link" is moat\'s own (the process in front of each third-party ' +
      'hop); give this hop another name',
  },
  {
    name: "the next link's credential on a command line (readable by every local user)",
    yaml: 'proxies:\n  - name: px\n    command: [px, --port, "{port}", --upstream, "{upstream}"]\n',
    code: 'MOAT_ERR_UNKNOWN_HOP',
    message:
      "moat.yaml:3:49: proxies[0].command[4]: {upstream} holds the next link's credential, and a command " +
      'line is readable by every local user; put it in env: or in a file under files:',
  },
  {
    name: 'a credential placeholder inside a longer argument',
    yaml: 'proxies:\n  - name: px\n    command: [px, "--auth={upstream_auth}"]\n',
    code: 'MOAT_ERR_UNKNOWN_HOP',
    message:
      "moat.yaml:3:19: proxies[0].command[1]: {upstream_auth} holds the next link's credential, and a " +
      'command line is readable by every local user; put it in env: or in a file under files:',
  },
  {
    name: 'unknown built-in hop, with a suggestion',
    yaml: 'proxies:\n  - moat-telemetry\n  - moat-polcy\n',
    code: 'MOAT_ERR_UNKNOWN_HOP',
    message:
      'moat.yaml:3:5: proxies[1]: unknown hop "moat-polcy" (did you mean "moat-policy"?) (known: ' +
      'moat-telemetry, moat-policy, agentreserve, chopratejas/headroom, claude-code-router, ' +
      'fuergaosi233/claude-code-proxy, mitmproxy, seifghazi/claude-code-proxy, tinyproxy; any other proxy ' +
      'needs the long form {name, command})',
  },
  {
    name: 'missing proxies',
    yaml: 'name: dev\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message: 'moat.yaml:1:1: (top level): missing required key "proxies"',
  },
  {
    name: 'unknown top-level key',
    yaml: 'proxies: []\nproxys: []\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message:
      'moat.yaml:2:1: proxys: unknown key "proxys" (known: name, proxies, ingress, policy, prices, egress, ' +
      'tls, events, capture, dashboard, grants, telemetry)',
  },
  {
    name: 'a limit field of another limit type',
    yaml:
      'proxies: [moat-policy]\npolicy:\n  rules:\n    - match: "*"\n      action: allow\n      policies:\n     ' +
      '   - type: rate_limit\n          max_requests_per_minute: 5\n          max_tokens: 10\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message:
      'moat.yaml:9:23: policy.rules[0].policies[0].max_tokens: max_tokens belongs to spending_limit, not rate_limit',
  },
  {
    name: 'limits on a rule that does not allow',
    yaml:
      'proxies: [moat-policy]\npolicy:\n  rules:\n    - match: "*"\n      action: log\n      policies: [{type: ' +
      'rate_limit, max_requests_per_minute: 5}]\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message: "moat.yaml:6:17: policy.rules[0].policies: limits apply to allow rules only (this rule's action is log)",
  },
  {
    name: 'an unknown time zone',
    yaml:
      'proxies: [moat-policy]\npolicy:\n  rules:\n    - match: "*"\n      action: allow\n      policies:\n     ' +
      '   - {type: time_restriction, allowed_days: [mon], time_zone: Mars/Olympus}\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message:
      'moat.yaml:7:68: policy.rules[0].policies[0].time_zone: "Mars/Olympus" is not a time zone (IANA names ' +
      'such as Europe/Berlin or UTC)',
  },
  {
    name: 'a money budget without prices',
    yaml:
      'proxies: [moat-policy]\npolicy:\n  rules:\n    - match: "*"\n      action: allow\n      policies:\n     ' +
      '   - {type: spending_limit, max_amount: 5}\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message:
      'moat.yaml:7:46: policy.rules[0].policies[0].max_amount: a budget in money needs prices: (per million ' +
      'tokens, by model) to price the usage with',
  },
  {
    name: 'a rate limit without its number, and a duplicate rule id',
    yaml:
      'proxies: [moat-policy]\npolicy:\n  rules:\n    - {id: a, match: "x/*", action: deny}\n    - id: a\n     ' +
      ' match: "*"\n      action: allow\n      policies: [{type: rate_limit}]\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message:
      'moat.yaml:5:11: policy.rules[1].id: "a" is already the id of rules[0]; ids name rules in events and ' +
      'must be unique\nmoat.yaml:8:18: policy.rules[1].policies[0]: rate_limit needs max_requests_per_minute',
  },
  {
    name: 'hours given by half',
    yaml:
      'proxies: [moat-policy]\npolicy:\n  rules:\n    - match: "*"\n      action: allow\n      policies: ' +
      '[{type: time_restriction, allowed_hours_start: 9}]\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message:
      'moat.yaml:6:18: policy.rules[0].policies[0]: time_restriction needs both allowed_hours_start and ' +
      'allowed_hours_end, or neither',
  },
  {
    name: 'bad policy action',
    yaml: 'proxies: [moat-policy]\npolicy:\n  rules:\n    - match: "*"\n      action: block\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message: 'moat.yaml:5:15: policy.rules[0].action: must be one of "allow", "deny", "log", got "block"',
  },
  {
    name: 'rule without match',
    yaml: 'proxies: [moat-policy]\npolicy:\n  rules:\n    - action: deny\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message: 'moat.yaml:4:7: policy.rules[0]: missing required key "match"',
  },
  {
    name: 'long form without command',
    yaml: 'proxies:\n  - name: tinyproxy\n    kind: forward\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message: 'moat.yaml:2:5: proxies[0]: missing required key "command"',
  },
  {
    name: 'long form with an unknown kind',
    yaml: 'proxies:\n  - name: x\n    command: [x]\n    kind: reverse\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message: 'moat.yaml:4:11: proxies[0].kind: must be one of "forward", "base_url", got "reverse"',
  },
  {
    name: 'proxies entry of the wrong type',
    yaml: 'proxies:\n  - 42\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message: 'moat.yaml:2:5: proxies[0]: expected a string or object, got integer 42',
  },
  {
    name: 'ingress port out of range',
    yaml: 'proxies: []\ningress:\n  port: 70000\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message: 'moat.yaml:3:9: ingress.port: must be at most 65535',
  },
  {
    name: 'egress.allow not a list',
    yaml: 'proxies: []\negress:\n  allow: api.anthropic.com\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message: 'moat.yaml:3:10: egress.allow: expected an array, got string "api.anthropic.com"',
  },
  {
    name: 'duplicate hop names',
    yaml: 'proxies: [moat-policy, moat-policy]\n',
    code: 'MOAT_ERR_UNKNOWN_HOP',
    message:
      'moat.yaml:1:24: proxies[1]: "moat-policy" is already hop 1; hop names must be unique (give one a name ' +
      'of its own)',
  },
  {
    name: 'manifest name with a typo',
    yaml: 'proxies:\n  - chopratejas/headrom\n',
    code: 'MOAT_ERR_UNKNOWN_HOP',
    message:
      'moat.yaml:2:5: proxies[0]: unknown hop "chopratejas/headrom" (did you mean "chopratejas/headroom"?) ' +
      '(known: moat-telemetry, moat-policy, agentreserve, chopratejas/headroom, claude-code-router, ' +
      'fuergaosi233/claude-code-proxy, mitmproxy, seifghazi/claude-code-proxy, tinyproxy; any other proxy ' +
      'needs the long form {name, command})',
  },
  {
    name: 'use: of a manifest that does not exist',
    yaml: 'proxies:\n  - use: tinyprox\n',
    code: 'MOAT_ERR_UNKNOWN_HOP',
    message: 'moat.yaml:2:10: proxies[0].use: no manifest "tinyprox" in contrib-proxies/ (did you mean "tinyproxy"?)',
  },
  {
    name: 'a hop that dials directly, not last',
    yaml: 'proxies:\n  - use: agentreserve\n    isolation: none\n  - moat-policy\n',
    code: 'MOAT_ERR_UNKNOWN_HOP',
    message:
      'moat.yaml:2:5: proxies[0]: "agentreserve" connects to destinations itself (it has no upstream ' +
      'setting), so with isolation: none it can only be the last hop before egress; it is hop 1 of 2. Remove ' +
      '`isolation: none` (its connections then go into the next link; Linux) or move it to the end of ' +
      'proxies:',
  },
  {
    name: 'a long-form hop that dials directly, in the middle without isolation',
    yaml:
      'proxies:\n  - moat-telemetry\n  - name: direct\n    command: [direct-proxy, "{port}"]\n    ' +
      'dials_directly: true\n    isolation: none\n  - moat-policy\n',
    code: 'MOAT_ERR_UNKNOWN_HOP',
    message:
      'moat.yaml:3:5: proxies[1]: "direct" connects to destinations itself (it has no upstream setting), so ' +
      'with isolation: none it can only be the last hop before egress; it is hop 2 of 3. Remove `isolation: ' +
      'none` (its connections then go into the next link; Linux) or move it to the end of proxies:',
  },
  {
    name: 'isolation: a value it does not know',
    yaml: 'proxies:\n  - use: agentreserve\n    isolation: container\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message: 'moat.yaml:3:16: proxies[0].isolation: must be one of "none", "netns", got "container"',
  },
  {
    name: 'a hop that dials directly, isolated, with tls: plain',
    yaml: 'proxies:\n  - use: agentreserve\n    isolation: netns\n    tls: plain\n  - moat-policy\n',
    code: 'MOAT_ERR_UNKNOWN_HOP',
    message:
      'moat.yaml:2:5: proxies[0]: "agentreserve" connects to destinations itself: with isolation: netns and ' +
      'tls: plain it would send what was HTTPS on as plain HTTP; use tls: tunnel',
  },
  {
    name: 'the same manifest twice without names of their own',
    yaml: 'proxies: [tinyproxy, tinyproxy]\n',
    code: 'MOAT_ERR_UNKNOWN_HOP',
    message:
      'moat.yaml:1:22: proxies[1]: "tinyproxy" is already hop 1; hop names must be unique (give one a name of its own)',
  },
  {
    name: 'long-form base_url hop without a scope',
    yaml: 'proxies:\n  - name: rev\n    command: [rev]\n    kind: base_url\n',
    code: 'MOAT_ERR_UNKNOWN_HOP',
    message: 'moat.yaml:2:5: proxies[0]: "rev" is a base_url hop and needs a scope (the hosts and paths it serves)',
  },
  {
    name: 'a file outside the hop directory',
    yaml: 'proxies:\n  - name: x\n    command: [x]\n    files:\n      ../escape.conf: hi\n',
    code: 'MOAT_ERR_UNKNOWN_HOP',
    message:
      'moat.yaml:2:5: proxies[0]: files: "../escape.conf" must be a path inside the hop\'s directory ' +
      '(relative, without ..)',
  },
  {
    name: 'use: with an unknown override key',
    yaml: 'proxies:\n  - use: tinyproxy\n    command: [x]\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message:
      'moat.yaml:3:5: proxies[0].command: unknown key "command" (known: use, name, scope, env, policy, tls, files, isolation)',
  },
  {
    name: 'grants with a hop that other machines can reach',
    yaml: 'proxies:\n  - use: seifghazi/claude-code-proxy\n    isolation: none\ngrants: [anthropic]\n',
    code: 'MOAT_ERR_GRANT_INVALID',
    message:
      'moat.yaml:2:5: proxies[0]: "seifghazi/claude-code-proxy" listens on every network interface, and with ' +
      'grants: egress adds your key to what it forwards, so other machines could spend it; remove grants: or ' +
      'this hop',
  },
  {
    name: 'telemetry: without moat-telemetry in proxies',
    yaml: 'proxies: [moat-policy]\ntelemetry:\n  metrics_port: 9464\n',
    code: 'MOAT_ERR_TELEMETRY_WITHOUT_HOP',
    message:
      'moat.yaml:3:3: telemetry: is set, but proxies: has no moat-telemetry, the hop whose metrics process ' +
      'serves /metrics and sends OTLP; add moat-telemetry to proxies: or remove telemetry:',
  },
  {
    name: 'events.ledger: central without events.nats_url',
    yaml: 'proxies: [moat-policy]\nevents:\n  ledger: central\n',
    code: 'MOAT_ERR_LEDGER_NEEDS_NATS_URL',
    message:
      'moat.yaml:3:11: events.ledger: central needs events.nats_url, the shared NATS that `moat ledger ' +
      "serve` reads (the chain's own nats-server listens on loopback only); set it, or remove events.ledger " +
      'for a local ledger',
  },
  {
    name: 'events.replicas above 1 without events.nats_url',
    yaml: 'proxies: [moat-policy]\nevents:\n  replicas: 3\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message:
      "moat.yaml:3:13: events.replicas: 3 needs events.nats_url, a NATS cluster: the chain's own nats-server is " +
      'one server and keeps one copy; set events.nats_url, or remove events.replicas',
  },
  {
    name: 'events.replicas above 5',
    yaml: 'proxies: [moat-policy]\nevents:\n  nats_url: nats://a:4222\n  replicas: 7\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message: 'moat.yaml:4:13: events.replicas: must be at most 5',
  },
  {
    name: 'events.nats_url with an empty server in its list',
    yaml: 'proxies: [moat-policy]\nevents:\n  nats_url: nats://a:4222,,nats://b:4222\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message: 'moat.yaml:3:13: events.nats_url: server 2 of 3 is empty (a stray comma?)',
  },
  {
    name: 'events.nats_url: a comma inside a password (the list would cut it)',
    yaml: 'proxies: [moat-policy]\nevents:\n  nats_url: nats://u:pa,ss@a:4222\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message: 'moat.yaml:3:13: events.nats_url: server 1 of 2 is not [nats://][user:password@]host[:port] (***)',
  },
  {
    name: 'events.ledger neither local nor central',
    yaml: 'proxies: [moat-policy]\nevents:\n  ledger: remote\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message: 'moat.yaml:3:11: events.ledger: must be one of "local", "central", got "remote"',
  },
  {
    name: 'telemetry.metrics_port the same as ingress.port',
    yaml: 'proxies: [moat-telemetry]\ningress:\n  port: 8080\ntelemetry:\n  metrics_port: 8080\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message:
      'moat.yaml:5:17: telemetry.metrics_port: 8080 is ingress.port too; give one of them another port, or 0 ' +
      'for a free one',
  },
  {
    name: 'telemetry.metrics_port the same as dashboard.port',
    yaml: 'proxies: [moat-telemetry]\ndashboard:\n  port: 8765\ntelemetry:\n  metrics_port: 8765\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message:
      'moat.yaml:5:17: telemetry.metrics_port: 8765 is dashboard.port too; give one of them another port, or 0 ' +
      'for a free one',
  },
  {
    name: 'telemetry.otlp.endpoint that is not an http(s) URL',
    yaml: 'proxies: [moat-telemetry]\ntelemetry:\n  otlp:\n    endpoint: 127.0.0.1:4318\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message:
      'moat.yaml:4:15: telemetry.otlp.endpoint: "127.0.0.1:4318" does not match ^https?://[^/\\s?#]+(/[^\\s?#]*)?$',
  },
  {
    name: 'telemetry.otlp without an endpoint',
    yaml: 'proxies: [moat-telemetry]\ntelemetry:\n  otlp:\n    interval_ms: 5000\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message: 'moat.yaml:4:5: telemetry.otlp: missing required key "endpoint"',
  },
  {
    name: 'bad chain name',
    yaml: 'name: My Chain\nproxies: []\n',
    code: 'MOAT_ERR_CONFIG_INVALID',
    message: 'moat.yaml:1:7: name: "My Chain" does not match ^[a-z0-9][a-z0-9-]{0,31}$',
  },
  {
    name: 'YAML syntax error',
    yaml: 'proxies:\n  - moat-policy\n policy: [\n',
    code: 'MOAT_ERR_CONFIG_SYNTAX',
    message: 'moat.yaml:3:1: All mapping items must start at the same column',
  },
  {
    name: 'duplicate key',
    yaml: 'proxies: []\nproxies: []\n',
    code: 'MOAT_ERR_CONFIG_SYNTAX',
    message: 'moat.yaml:2:1: Map keys must be unique',
  },
  {
    // Regression (resilience suite, mutated configs): the name's newline broke the message over a line without a place.
    name: 'an unknown hop whose name spans lines',
    yaml: 'proxies:\n  - |\n    moat-policy\n    env:\n',
    code: 'MOAT_ERR_UNKNOWN_HOP',
    message:
      'moat.yaml:2:5: proxies[0]: unknown hop "moat-policy\\nenv:\\n" (known: moat-telemetry, moat-policy, ' +
      'agentreserve, chopratejas/headroom, claude-code-router, fuergaosi233/claude-code-proxy, mitmproxy, ' +
      'seifghazi/claude-code-proxy, tinyproxy; any other proxy needs the long form {name, command})',
  },
  {
    name: 'an unknown grant whose name spans lines (quoted, so the message stays one line)',
    yaml: 'proxies: [moat-policy]\ngrants:\n  - |\n    anthropic\n    openai\n',
    code: 'MOAT_ERR_GRANT_INVALID',
    message:
      'moat.yaml:3:5: grants[0]: unknown grant "anthropic\\nopenai\\n" (known: anthropic, openai, gemini; ' +
      'any other API needs the form {host, header, format, env})',
  },
  {
    // Regression (resilience suite, mutated configs): this was "moat: internal error: Unresolved alias".
    name: 'an alias without its anchor',
    yaml: 'proxies: [moat-policy]\nname: *nowhere\n',
    code: 'MOAT_ERR_CONFIG_SYNTAX',
    message: 'moat.yaml:2:7: alias *nowhere names no anchor (&nowhere) defined before it',
  },
  {
    name: 'aliases that expand past the parser limit',
    yaml:
      'proxies: [moat-policy]\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, ' +
      '*a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n',
    code: 'MOAT_ERR_CONFIG_SYNTAX',
    message: 'moat.yaml:3:8: Excessive alias count indicates a resource exhaustion attack',
  },
];

describe('config validation errors name file:line:column and key path', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const err = errorOf(c.yaml);
      expect(err.code).to.equal(c.code);
      if (c.code === 'MOAT_ERR_CONFIG_SYNTAX') expect(err.message.startsWith(c.message), err.message).to.equal(true);
      else expect(err.message).to.equal(c.message);
    });
  }

  it('reports every problem, one per line', () => {
    const err = errorOf('proxies: [moat-policy]\npolicy:\n  rulez: []\negress:\n  timeout_ms: 0\n');
    expect(err.message.split('\n')).to.deep.equal([
      'moat.yaml:3:3: policy.rulez: unknown key "rulez" (known: mode, rules, dlp, inspect_max_bytes, oversize)',
      'moat.yaml:5:15: egress.timeout_ms: must be at least 1',
    ]);
  });

  it('a missing file says how to proceed', () => {
    expect(() => loadConfigFile('/nonexistent/moat.yaml')).to.throw(MoatError, '/nonexistent/moat.yaml: no such file');
  });

  it('fills defaults for a minimal config', () => {
    const { config } = parseConfig('proxies: [moat-telemetry]\n', 'moat.yaml');
    expect(config.name).to.equal('default');
    expect(config.ingress.port).to.equal(0);
    expect(config.policy.rules).to.deep.equal([]);
    expect(config.egress).to.deep.equal({
      allow: ['*'],
      allow_private_addresses: false,
      resolve: {},
      extra_ca: [],
      timeout_ms: 120000,
    });
    expect(config.events).to.deep.equal({ queue_size: 10000, ledger: 'local' });
    expect(config.capture).to.deep.equal({ bodies: 'metadata', max_body_bytes: 65536 });
    expect(config.telemetry).to.deep.equal({});
  });

  it('fills the defaults of telemetry.otlp', () => {
    const { config } = parseConfig(
      'proxies: [moat-telemetry]\ntelemetry:\n  otlp: {endpoint: "http://127.0.0.1:4318"}\n',
      'moat.yaml',
    );
    expect(config.telemetry).to.deep.equal({
      otlp: { endpoint: 'http://127.0.0.1:4318', interval_ms: 10000, headers: {} },
    });
  });

  it('fills defaults inside long-form hops', () => {
    const { config } = parseConfig('proxies:\n  - name: tp\n    command: [tinyproxy, -d]\n', 'moat.yaml');
    expect(config.proxies[0]).to.deep.equal({
      name: 'tp',
      command: ['tinyproxy', '-d'],
      kind: 'forward',
      tls: 'tunnel',
      env: {},
      files: {},
      listens_on_all_interfaces: false,
      dials_directly: false,
      policy: false,
      isolation: 'netns',
    });
  });

  it('resolves a manifest name to its recipe, and {use} with overrides of scope, name and env', () => {
    const { config } = parseConfig(
      'proxies:\n  - chopratejas/headroom\n  - use: seifghazi/claude-code-proxy\n    name: logger\n    ' +
        'scope: {hosts: [api.example.com]}\n    env: {PORT: "9"}\n',
      'moat.yaml',
    );
    const [headroom, logger] = config.proxies as any[];
    expect(headroom).to.deep.include({
      name: 'chopratejas/headroom',
      kind: 'base_url',
      install: 'pipx install headroom-ai (or: pip install headroom-ai in a venv whose bin is on PATH)',
    });
    expect(headroom.command[0]).to.equal('headroom');
    expect(headroom.scope).to.deep.equal({
      hosts: ['api.anthropic.com', 'api.openai.com'],
      paths: ['/v1/messages', '/v1/chat/completions', '/v1/responses'],
    });
    expect(headroom.manifest).to.match(/contrib-proxies\/chopratejas\/headroom\/manifest\.yaml$/);
    expect(logger).to.deep.include({ name: 'logger', kind: 'base_url', listens_on_all_interfaces: true });
    expect(logger.scope).to.deep.equal({ hosts: ['api.example.com'], paths: [] });
    expect(logger.env.PORT).to.equal('9');
    expect(logger.env.ANTHROPIC_FORWARD_URL).to.equal('{upstream_base}/https/api.anthropic.com');
  });

  it('{use} with files: replaces the manifest file of that path, keeps the others', () => {
    const { config } = parseConfig(
      'proxies:\n  - use: claude-code-router\n    files:\n      .claude-code-router/config.json: "{}"\n      ' +
        'extra.txt: "x {port}"\n',
      'moat.yaml',
    );
    const [ccr] = config.proxies as any[];
    expect(ccr.files).to.deep.equal({ '.claude-code-router/config.json': '{}', 'extra.txt': 'x {port}' });
    const { config: ar } = parseConfig('proxies:\n  - use: agentreserve\n    files: {notes.txt: n}\n', 'moat.yaml');
    expect(Object.keys((ar.proxies[0] as any).files).sort()).to.deep.equal(['agentreserve.yaml', 'notes.txt']);
  });

  it('grants with a hop that listens on every interface are fine when it is isolated (only moat reaches it)', () => {
    const yaml = 'proxies:\n  - use: seifghazi/claude-code-proxy\n    isolation: netns\ngrants: [anthropic]\n';
    expect(() => parseConfig(yaml, 'moat.yaml')).not.to.throw();
    // isolated by default
    expect(() => parseConfig(yaml.replace('    isolation: netns\n', ''), 'moat.yaml')).not.to.throw();
    expect(() => parseConfig(yaml.replace('isolation: netns', 'isolation: none'), 'moat.yaml')).to.throw(
      MoatError,
      'listens on every network interface',
    );
  });

  it('{use} files must stay inside the hop directory', () => {
    expect(() => parseConfig('proxies:\n  - use: agentreserve\n    files: {"../x": n}\n', 'moat.yaml')).to.throw(
      MoatError,
      'files: "../x" must be a path inside the hop\'s directory',
    );
  });
});
