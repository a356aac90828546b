// policy learn: the rules learned from recorded requests allow each of them in the engine and deny anything else.
import { expect } from 'chai';
import { parse } from 'yaml';
import { learnPolicy, covers } from '../../../../supervisor/commands/policy-learn';
import type { MoatEvent } from '../../../../schemas/generated/event';
import { policyView, testPolicyEngine } from '../../../helpers/policy-engine';

let seq = 0;
const req = (host: string, path: string, o: Partial<MoatEvent> = {}): MoatEvent =>
  ({
    id: String(++seq),
    chain: 'c',
    trace: `t${seq}`,
    hop: 1,
    hop_name: 'h',
    boundary: 0,
    direction: 'request',
    time: '2026-12-05T10:00:00Z',
    method: 'POST',
    scheme: 'https',
    host,
    port: 443,
    path,
    ...o,
  }) as MoatEvent;
const tool = (name: string) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name } });

const seen = [
  req('api.anthropic.com', '/v1/messages'),
  req('api.anthropic.com', '/v1/messages'),
  req('api.openai.com', '/v1/threads/abc123/runs'),
  req('api.openai.com', '/v1/threads/def456/runs', { method: 'GET' }),
  req('api.openai.com', '/v1/threads/0a1b2c/runs'),
  req('mcp.example.com', '/mcp', { body: tool('search'), body_size: 60 }),
  req('mcp.example.com', '/mcp', { body: '{"jsonrpc":"2.0","id":0,"method":"initialize"}', body_size: 50 }),
];
const denied = req('evil.example.com', '/x');
const deniedAt2: MoatEvent = { ...denied, id: 'd', boundary: 1, hop: 2, decision: 'deny' };
const replay = req('api.anthropic.com', '/v1/other', { replay_of: 'x' });

describe('policy learn (no ledger)', () => {
  const learned = learnPolicy([...seen, denied, deniedAt2, replay], '(all of it)');
  const engine = testPolicyEngine(
    learned.rules,
    { dlp: { enabled: false } },
    () => 0,
    () => [],
  );
  const decide = (host: string, path: string, method = 'POST', body?: string) =>
    engine.decide(
      policyView(host, path, { method, headers: body ? { 'content-length': String(body.length) } : {} }),
      body ? { text: body, complete: true } : undefined,
    ).action;

  it('allows every request it saw, in the engine', () => {
    for (const e of seen) expect(decide(e.host!, e.path!, e.method, e.body), `${e.host}${e.path}`).to.equal('allow');
  });

  it('allows a new id where ids varied, and denies anything else', () => {
    expect(decide('api.openai.com', '/v1/threads/fff999/runs')).to.equal('allow');
    expect(decide('api.openai.com', '/v1/files')).to.equal('deny');
    expect(decide('api.anthropic.com', '/v1/complete')).to.equal('deny');
    expect(decide('evil.example.com', '/x'), 'a denied request is not learned').to.equal('deny');
    expect(decide('api.anthropic.com', '/v1/other'), 'a replay is not learned').to.equal('deny');
    expect(decide('mcp.example.com', '/mcp', 'POST', tool('delete_all')), 'an unseen MCP tool').to.equal('deny');
    expect(decide('mcp.example.com', '/other')).to.equal('deny');
    expect(decide('api.anthropic.com', '/v1/messages', 'DELETE'), 'a method not seen').to.equal('deny');
    expect(decide('api.openai.com', '/v1/threads/abc123/runs', 'GET'), 'a method seen on the pattern').to.equal(
      'allow',
    );
  });

  it('ends with deny-all, comments every rule with counts and methods, and prints YAML that loads', () => {
    expect(learned.rules[learned.rules.length - 1]).to.include({ match: '*', action: 'deny' });
    expect(learned.yaml).to.contain('# 3 request(s), 3 distinct paths: POST 2, GET 1');
    expect(learned.yaml).to.contain('match: api.openai.com/v1/threads/*/runs');
    expect(learned.yaml).to.contain('# MCP tool search: 1 call(s)');
    expect(learned.yaml).to.contain('# Left out: 2 request(s)');
    const doc = parse(learned.yaml) as { policy: { mode: string; rules: unknown[] } };
    expect(doc.policy.mode).to.equal('enforce');
    expect(doc.policy.rules).to.deep.equal(learned.rules);
  });

  it('says when bodies were not recorded, and learns blind tunnels as the host', () => {
    const l = learnPolicy(
      [
        req('api.anthropic.com', '/v1/messages', { body_size: 10 }),
        req('github.com', '', { method: 'CONNECT', intercepted: false }),
      ],
      '(the last 1h)',
    );
    expect(l.yaml)
      .to.contain('were not recorded (capture.bodies: metadata)')
      .and.contain('in the ledger (the last 1h)');
    expect(l.rules.map((r) => r.match)).to.deep.equal(['api.anthropic.com/v1/messages', 'github.com/*', '*']);
    expect(l.rules[0].methods).to.deep.equal(['POST']);
    expect(l.rules[1], 'a tunnel shows no method').to.not.have.property('methods');
  });

  const coverRows: [string, string, boolean][] = [
    ['/v1/*/runs', '/v1/abc/runs', true],
    ['/v1/*/runs', '/v1/abc/def/runs', false],
    ['/v1/models', '/v1/models/', false],
  ];
  for (const [pattern, path, yes] of coverRows)
    it(`${pattern} ${yes ? 'covers' : 'does not cover'} ${path}`, () => expect(covers(pattern, path)).to.equal(yes));
});
