// Which leaves ingress mints as soon as it listens (supervisor/chain/plan.ts, hostsToMint): the hosts egress.allow
// names exactly and tls.intercept terminates. Pure.
import { expect } from 'chai';
import { hostsToMint } from '../../../../supervisor/chain/plan';

describe('plan: leaves ingress mints ahead', () => {
  it('takes the exact names of egress.allow, lower-cased and once each', () => {
    expect(hostsToMint(['api.anthropic.com', 'API.openai.com', 'api.anthropic.com'], undefined)).to.deep.equal([
      'api.anthropic.com',
      'api.openai.com',
    ]);
  });

  it('leaves out globs, addresses and localhost: nothing to name a leaf after, or no agent CONNECT to mint for', () => {
    expect(
      hostsToMint(['*', '*.example.com', 'api.*', '127.0.0.1', '::1', 'localhost', 'a.example'], undefined),
    ).to.deep.equal(['a.example']);
  });

  it('leaves out what tls.intercept tunnels blind: those hosts never get a Moat leaf', () => {
    expect(hostsToMint(['api.anthropic.com', 'github.com'], ['*.anthropic.com'])).to.deep.equal(['api.anthropic.com']);
  });

  it('mints 32 at most', () => {
    const many = Array.from({ length: 40 }, (_, i) => `h${i}.example`);
    expect(hostsToMint(many, undefined)).to.have.length(32);
  });
});
