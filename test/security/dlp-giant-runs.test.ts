// An agent that hides a key where DLP's patterns give up: a key with millions of letters glued after it (V8's regular
// expressions overflow their backtracking stack on such a run). moat-policy, with its real scanner, must not let that
// body through as "no finding": with policy.oversize: deny (the default) it is refused as a body it could not inspect,
// and a body of 8 MiB of one letter, which no pattern can call a secret, is read to the end and allowed.
import { expect } from 'chai';
import { findSecretsDecoded, type DlpLabel } from '../../hops/dlp';
import type { SecretScanner } from '../../hops/policy/engine';
import { testPolicyEngine } from '../helpers/policy-engine';
import { fake } from '../helpers/fake-secrets';

// moat-policy's scanner, as hops/policy/runtime.ts hands it to the engine.
const scan: SecretScanner = (text, labels, options) =>
  findSecretsDecoded(text, labels as DlpLabel[] | undefined, [], options);

const post = {
  method: 'POST',
  host: 'api.anthropic.com',
  path: '/v1/messages',
  headers: { 'content-type': 'application/json' },
};

describe('DLP against megabyte runs (an agent hiding a key where the patterns give up)', () => {
  const engine = testPolicyEngine([], { inspectMaxBytes: 16 << 20 }, () => 0, scan);

  it('a key with 7 MiB of letters glued after it is refused, never forwarded as clean', () => {
    const key = fake.githubToken();
    const verdict = engine.decide(post, { text: `{"note":"${key}${'a'.repeat(7 << 20)}"}`, complete: true });
    expect(verdict.action).to.equal('deny');
    expect(verdict.kind).to.be.oneOf(['dlp_blocked', 'body_not_inspectable']);
  });

  it('8 MiB of one letter (one long base64 run) is read to the end and allowed', () => {
    const verdict = engine.decide(post, { text: 'b'.repeat(8 << 20), complete: true });
    expect(verdict.action).to.equal('allow');
  });
});
