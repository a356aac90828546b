// What a `when:` condition adds to moat-policy's decision per request: the same rules with and without a CEL
// condition, on a typical Anthropic messages request (headers of an agent, a 20 KB body), DLP off so the rules alone
// are timed; and the compile time of the conditions. `node dist/test/bench/cel-policy.js`.
import { compileWhen } from '../../hops/policy/cel';
import type { PolicyRule } from '../../schemas/generated/chain-config';
import { policyView, testPolicyEngine } from '../helpers/policy-engine';

const body = JSON.stringify({
  model: 'claude-sonnet-4-5',
  max_tokens: 1024,
  tools: [{ name: 'bash' }, { name: 'read_file' }],
  messages: [{ role: 'user', content: 'Explain the function. '.repeat(900) }],
});
const view = policyView('api.anthropic.com', '/v1/messages', {
  headers: {
    'content-type': 'application/json',
    'content-length': String(body.length),
    'x-api-key': 'sk-ant-api03-placeholder',
    'anthropic-version': '2023-06-01',
    'user-agent': 'claude-cli/2.0 (external, cli)',
    accept: 'application/json',
  },
});

const engine = (rules: PolicyRule[]) =>
  testPolicyEngine(rules, { dlp: { enabled: false }, inspectMaxBytes: 8 << 20 }, Date.now, () => []);

/** The best of 7 rounds, in µs per run: the machine is shared, the best round is the code's own cost. */
function time(run: () => unknown, n = 2000): number {
  for (let i = 0; i < 200; i++) run();
  let best = Infinity;
  for (let round = 0; round < 7; round++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) run();
    best = Math.min(best, ((performance.now() - t) / n) * 1000);
  }
  return best;
}

const text = { text: body, complete: true };
const rest: PolicyRule = { match: '*', action: 'allow' };
const base = time(() => engine([{ match: 'api.anthropic.com/*', action: 'deny' }, rest]).decide(view, text));
const plain = engine([{ match: 'other.example.com/*', action: 'deny' }, rest]);
const baseline = time(() => plain.decide(view, text));
console.log(`rules without when: ${baseline.toFixed(2)} µs per decision (engine built per run: ${base.toFixed(1)} µs)`);
for (const when of [
  'model.startsWith("claude-opus")',
  'method == "POST" && input_tokens > 100000',
  '"bash" in tools',
  'headers["user-agent"].startsWith("claude-cli")  && !(headers["x-debug"] == "1")',
]) {
  const e = engine([{ match: 'api.anthropic.com/*', when, action: 'deny' }, rest]);
  const us = time(() => e.decide(view, text));
  let k = 0;
  // A new text each run: compileWhen caches by text.
  const compile = time(() => compileWhen(`(${when}) || ${k++} == -1`), 200);
  console.log(
    `${when}: ${us.toFixed(1)} µs per decision (+${(us - baseline).toFixed(1)}); compile ${compile.toFixed(1)} µs`,
  );
}
