// The credential boundary at egress, without sockets: which requests get the real key, and how.
import { expect } from 'chai';
import type { OutgoingHttpHeaders } from 'node:http';
import {
  applyCredentials,
  keysFromEnv,
  type CredentialAction,
  type EgressGrant,
} from '../../../../hops/logic/credentials';
import { requestEvent } from '../../../../hops/events/boundary-events';
import { BodyTap } from '../../../../hops/events/body-tap';

const ANT_PH =
  'sk-ant-api03-PLACEHOLDERplaceholderPLACEHOLDERplaceholderPLACEHOLDERplaceholderPLACEHOLDERplaceholder0123AA';
const OAI_PH = 'sk-PLACEHOLDERplaceholderPLACEHOLDERplaceholder012';
const GEM_PH = 'AIzaPLACEHOLDERplaceholderPLACEHOLDER012';
const GEN_PH = 'ghp_PLACEHOLDERplaceholder0123456789';
const KEYS: Record<string, string> = {
  MOAT_GRANT_0: 'sk-ant-api03-REAL-anthropic',
  MOAT_GRANT_1: 'sk-REAL-openai',
  MOAT_GRANT_2: 'AIzaREAL-gemini',
  MOAT_GRANT_3: 'ghp_REAL-generic',
};

const GRANTS: EgressGrant[] = [
  {
    name: 'anthropic',
    host: 'api.anthropic.com',
    header: 'x-api-key',
    format: '{key}',
    also: [{ header: 'authorization', format: 'Bearer {key}' }],
    placeholder: ANT_PH,
    keyEnv: 'MOAT_GRANT_0',
  },
  {
    name: 'openai',
    host: 'api.openai.com',
    header: 'authorization',
    format: 'Bearer {key}',
    placeholder: OAI_PH,
    keyEnv: 'MOAT_GRANT_1',
  },
  {
    name: 'gemini',
    host: 'generativelanguage.googleapis.com',
    header: 'x-goog-api-key',
    format: '{key}',
    query: 'key',
    placeholder: GEM_PH,
    keyEnv: 'MOAT_GRANT_2',
  },
  {
    name: '*.github.example',
    host: '*.github.example',
    header: 'authorization',
    format: 'token {key}',
    placeholder: GEN_PH,
    keyEnv: 'MOAT_GRANT_3',
  },
];

interface Case {
  name: string;
  scheme?: 'http' | 'https';
  port?: number;
  host: string;
  path?: string;
  headers: OutgoingHttpHeaders;
  action: CredentialAction;
  sent: OutgoingHttpHeaders;
  sentPath?: string;
}

const CASES: Case[] = [
  {
    name: 'anthropic: placeholder in x-api-key is replaced',
    host: 'api.anthropic.com',
    headers: { 'x-api-key': ANT_PH, 'content-type': 'application/json' },
    action: 'replaced',
    sent: { 'x-api-key': KEYS.MOAT_GRANT_0, 'content-type': 'application/json' },
  },
  {
    name: 'anthropic: no credential header: x-api-key is injected',
    host: 'api.anthropic.com',
    headers: { accept: '*/*' },
    action: 'injected',
    sent: { accept: '*/*', 'x-api-key': KEYS.MOAT_GRANT_0 },
  },
  {
    name: 'anthropic: Bearer placeholder in authorization is replaced in place',
    host: 'api.anthropic.com',
    headers: { authorization: `Bearer ${ANT_PH}` },
    action: 'replaced',
    sent: { authorization: `Bearer ${KEYS.MOAT_GRANT_0}` },
  },
  {
    name: "anthropic: the agent's own OAuth token is kept, nothing injected",
    host: 'api.anthropic.com',
    headers: { authorization: 'Bearer sk-ant-oat01-agents-own' },
    action: 'kept',
    sent: { authorization: 'Bearer sk-ant-oat01-agents-own' },
  },
  {
    name: "anthropic: a key of the agent's own in x-api-key is kept",
    host: 'api.anthropic.com',
    headers: { 'x-api-key': 'sk-ant-api03-agents-own' },
    action: 'kept',
    sent: { 'x-api-key': 'sk-ant-api03-agents-own' },
  },
  {
    name: 'anthropic: host matching ignores case',
    host: 'API.Anthropic.com',
    headers: { 'x-api-key': ANT_PH },
    action: 'replaced',
    sent: { 'x-api-key': KEYS.MOAT_GRANT_0 },
  },
  {
    name: 'anthropic: plain http never carries the key',
    scheme: 'http',
    host: 'api.anthropic.com',
    headers: { 'x-api-key': ANT_PH },
    action: 'plain_http',
    sent: { 'x-api-key': ANT_PH },
  },
  {
    name: 'anthropic: plain http without a header: nothing injected',
    scheme: 'http',
    host: 'api.anthropic.com',
    headers: {},
    action: 'plain_http',
    sent: {},
  },
  {
    name: 'openai: Bearer placeholder is replaced',
    host: 'api.openai.com',
    headers: { authorization: `Bearer ${OAI_PH}` },
    action: 'replaced',
    sent: { authorization: `Bearer ${KEYS.MOAT_GRANT_1}` },
  },
  {
    name: 'openai: a lower-case bearer is replaced too',
    host: 'api.openai.com',
    headers: { authorization: `bearer ${OAI_PH}` },
    action: 'replaced',
    sent: { authorization: `bearer ${KEYS.MOAT_GRANT_1}` },
  },
  {
    name: 'openai: absent authorization is injected as Bearer',
    host: 'api.openai.com',
    headers: {},
    action: 'injected',
    sent: { authorization: `Bearer ${KEYS.MOAT_GRANT_1}` },
  },
  {
    name: 'openai: the anthropic placeholder sent to openai is not a key there: kept',
    host: 'api.openai.com',
    headers: { authorization: `Bearer ${ANT_PH}` },
    action: 'kept',
    sent: { authorization: `Bearer ${ANT_PH}` },
  },
  {
    name: 'anthropic: the openai placeholder in x-api-key is kept, never swapped for another key',
    host: 'api.anthropic.com',
    headers: { 'x-api-key': OAI_PH },
    action: 'kept',
    sent: { 'x-api-key': OAI_PH },
  },
  {
    name: 'gemini: placeholder in x-goog-api-key is replaced',
    host: 'generativelanguage.googleapis.com',
    headers: { 'x-goog-api-key': GEM_PH },
    action: 'replaced',
    sent: { 'x-goog-api-key': KEYS.MOAT_GRANT_2 },
  },
  {
    name: 'gemini: placeholder in ?key= is replaced, the rest of the query untouched',
    host: 'generativelanguage.googleapis.com',
    path: `/v1beta/models/m:generateContent?alt=sse&key=${GEM_PH}&x=a%20b`,
    headers: {},
    action: 'replaced',
    sent: {},
    sentPath: `/v1beta/models/m:generateContent?alt=sse&key=${encodeURIComponent(KEYS.MOAT_GRANT_2)}&x=a%20b`,
  },
  {
    name: 'gemini: a key of its own in ?key= is kept, no header injected',
    host: 'generativelanguage.googleapis.com',
    path: '/v1/models?key=AIzaOWN',
    headers: {},
    action: 'kept',
    sent: {},
    sentPath: '/v1/models?key=AIzaOWN',
  },
  {
    name: 'gemini: a query without key gets the header injected',
    host: 'generativelanguage.googleapis.com',
    path: '/v1/models?pageSize=5',
    headers: {},
    action: 'injected',
    sent: { 'x-goog-api-key': KEYS.MOAT_GRANT_2 },
    sentPath: '/v1/models?pageSize=5',
  },
  {
    name: 'generic glob host: format "token {key}" injected',
    host: 'api.github.example',
    headers: {},
    action: 'injected',
    sent: { authorization: `token ${KEYS.MOAT_GRANT_3}` },
  },
  {
    name: 'generic: placeholder replaced inside its format',
    host: 'uploads.github.example',
    headers: { authorization: `token ${GEN_PH}` },
    action: 'replaced',
    sent: { authorization: `token ${KEYS.MOAT_GRANT_3}` },
  },
  {
    name: 'generic glob does not match the bare domain',
    host: 'github.example',
    headers: {},
    action: 'none',
    sent: {},
  },
  {
    name: 'a host no grant names: placeholder forwarded as it is',
    host: 'example.org',
    headers: { 'x-api-key': ANT_PH, authorization: `Bearer ${OAI_PH}` },
    action: 'none',
    sent: { 'x-api-key': ANT_PH, authorization: `Bearer ${OAI_PH}` },
  },
  {
    name: 'a look-alike host gets no key',
    host: 'api.anthropic.com.evil.example',
    headers: {},
    action: 'none',
    sent: {},
  },
  { name: 'a look-alike subdomain gets no key', host: 'evilapi.anthropic.com', headers: {}, action: 'none', sent: {} },
  {
    name: 'another port of the granted host gets no key, injected or replaced',
    host: 'api.anthropic.com',
    port: 8443,
    headers: { 'x-api-key': ANT_PH },
    action: 'other_port',
    sent: { 'x-api-key': ANT_PH },
  },
  {
    name: 'another port, no header: nothing injected',
    host: 'api.anthropic.com',
    port: 80,
    headers: {},
    action: 'other_port',
    sent: {},
  },
  {
    name: 'the placeholder inside other text is not replaced: the agent does not choose what surrounds the key',
    host: 'api.anthropic.com',
    headers: { 'x-api-key': `AAA${ANT_PH}BBB` },
    action: 'kept',
    sent: { 'x-api-key': `AAA${ANT_PH}BBB` },
  },
  {
    name: 'the placeholder twice is not replaced',
    host: 'api.openai.com',
    headers: { authorization: `Bearer ${OAI_PH}${OAI_PH}` },
    action: 'kept',
    sent: { authorization: `Bearer ${OAI_PH}${OAI_PH}` },
  },
  {
    name: 'text after the format is not replaced',
    host: 'api.openai.com',
    headers: { authorization: `Bearer ${OAI_PH} x` },
    action: 'kept',
    sent: { authorization: `Bearer ${OAI_PH} x` },
  },
];

describe('egress credentials (no sockets)', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const headers = structuredClone(c.headers);
      const path = c.path ?? '/v1/messages';
      const asked: string[] = [];
      const result = applyCredentials(GRANTS, (g) => (asked.push(g.name), KEYS[g.keyEnv]), {
        scheme: c.scheme ?? 'https',
        host: c.host,
        port: c.port ?? 443,
        path,
        headers,
      });
      expect(result.action).to.equal(c.action);
      expect(result.headers).to.deep.equal(c.sent);
      expect(result.path).to.equal(c.sentPath ?? path);
      // The input is never modified: the recorded request is the one that arrived.
      expect(headers).to.deep.equal(c.headers);
      // The key is looked up only when it is put into the request.
      if (c.action !== 'replaced' && c.action !== 'injected') expect(asked).to.deep.equal([]);
    });
  }

  it('replaces the placeholder in every value of a repeated header', () => {
    const result = applyCredentials(GRANTS, (g) => KEYS[g.keyEnv], {
      scheme: 'https',
      host: 'api.anthropic.com',
      port: 443,
      path: '/',
      headers: { 'x-api-key': [ANT_PH, 'other'] },
    });
    expect(result.headers['x-api-key']).to.deep.equal([KEYS.MOAT_GRANT_0, 'other']);
  });

  it('no grants: every request is left alone', () => {
    const headers = { 'x-api-key': 'x' };
    expect(
      applyCredentials([], () => 'k', { scheme: 'https', host: 'api.anthropic.com', port: 443, path: '/', headers }),
    ).to.deep.equal({ action: 'none', grant: undefined, headers, path: '/' });
  });

  it("reads the keys from egress's secrets and names a missing one", () => {
    expect(keysFromEnv(GRANTS.slice(0, 1), { MOAT_GRANT_0: 'k0' }).get('MOAT_GRANT_0')).to.equal('k0');
    expect(() => keysFromEnv(GRANTS.slice(0, 2), { MOAT_GRANT_0: 'k0' })).to.throw(
      "grant openai: MOAT_GRANT_1 is not in egress's secrets",
    );
  });
});

describe("events redact a generic grant's header", () => {
  it('besides the usual credential headers, in every capture mode', () => {
    const view = {
      method: 'GET',
      scheme: 'https' as const,
      host: 'api.example.com',
      port: 443,
      path: '/',
      headers: { 'x-token': 'Token ex_abc', 'x-api-key': 'k', accept: '*/*' },
      trace: 't',
    };
    for (const capture of ['metadata', 'redacted', 'full'] as const) {
      const e = requestEvent(
        { chain: 'c', hop: 1, hopName: 'h', boundary: 0, capture, redactHeaders: ['x-token'] },
        view,
        { tap: new BodyTap(0), streaming: false, captureLimit: 0 },
      );
      expect(e.headers).to.deep.equal({ 'x-token': '[REDACTED]', 'x-api-key': '[REDACTED]', accept: '*/*' });
    }
  });
});
