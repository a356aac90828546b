// Header redaction remembers the header texts DLP read and found clean (hops/events/redact.ts), so an agent's usual
// headers are not read again on every request. Attacked as an agent would: a secret sent where the same header was
// clean before, a secret a grant's placeholder list lets through in one process read by another that has no such
// list, and a flood of distinct values meant to grow the process's memory.
import { expect } from 'chai';
import { heldCleanHeaderTexts, redactHeaders } from '../../hops/events/redact';
import { fake } from '../helpers/fake-secrets';

describe('header redaction memo: what it remembers cannot hide a secret', () => {
  it('a secret in a header that was clean on every request before is still masked, every time', () => {
    for (let i = 0; i < 50; i++)
      expect(redactHeaders({ 'x-request-note': 'plain words' })['x-request-note']).to.equal('plain words');
    const key = fake.awsAccessKey();
    for (let i = 0; i < 3; i++) {
      const out = redactHeaders({ 'x-request-note': `plain words ${key}` });
      expect(out['x-request-note']).to.not.contain(key);
      expect(out['x-request-note']).to.contain('[REDACTED:');
    }
    const slack = fake.slackBotToken();
    for (let i = 0; i < 3; i++)
      expect(Object.keys(redactHeaders({ [`x-${slack}`]: 'v' })).join()).to.not.contain(slack);
  });

  it("a value clean only under one process's placeholders is masked where they are not allowed", () => {
    const placeholder = fake.anthropicKey();
    const allowed = [placeholder];
    expect(redactHeaders({ 'x-note': placeholder }, [], allowed)['x-note']).to.equal(placeholder);
    expect(redactHeaders({ 'x-note': placeholder }, [], [...allowed])['x-note']).to.equal(placeholder);
    expect(redactHeaders({ 'x-note': placeholder })['x-note']).to.not.contain(placeholder);
    expect(redactHeaders({ 'x-note': placeholder }, [], [])['x-note']).to.not.contain(placeholder);
  });

  it('a flood of distinct clean values keeps at most 4096 of them; long values are never kept', () => {
    for (let i = 0; i < 10_000; i++) redactHeaders({ 'x-flood': `value number ${i}` });
    const held = heldCleanHeaderTexts();
    expect(held).to.be.at.most(4096).and.at.least(1);
    redactHeaders({ 'x-long': 'y'.repeat(600) });
    expect(heldCleanHeaderTexts()).to.equal(held + 1); // the name, not the value
  });
});
