// One spelling of a path for every decision (issue 16, paths): table-driven, no sockets. Every spelling a server
// reads as /admin/users comes out as /admin/users; what servers read differently is refused, naming why.
import { expect } from 'chai';
import { canonicalPath, removeDotSegments, PATH_ALLOWANCES } from '../../../../hops/logic/canonical-path';
import { parseConfig } from '../../../../supervisor/config/load';
import { planFromYaml } from '../../../helpers/plan-from-yaml';

// [given, canonical form]
const SAME: [string, string][] = [
  ['/admin/users', '/admin/users'],
  ['/./admin/users', '/admin/users'],
  ['/x/../admin/users', '/admin/users'],
  ['/%61dmin/users', '/admin/users'],
  ['/%61%64%6D%69%6E/users', '/admin/users'],
  ['/%2e/admin/users', '/admin/users'],
  ['/%2E/admin/users', '/admin/users'],
  ['/x/%2e%2e/admin/users', '/admin/users'],
  ['/x/.%2e/admin/users', '/admin/users'],
  ['/x/%2E./admin/users', '/admin/users'],
  ['/x/y/../../admin/users', '/admin/users'],
  ['/../admin/users', '/admin/users'],
  ['/../../../admin/users', '/admin/users'],
  ['/admin/./users', '/admin/users'],
  ['/admin/x/../users', '/admin/users'],
  ['//admin/users', '/admin/users'],
  ['/admin//users', '/admin/users'],
  ['///admin///users', '/admin/users'],
  ['/x//../admin/users', '/admin/users'],
  ['/admin/users/.', '/admin/users/'],
  ['/admin/users/x/..', '/admin/users/'],
  ['/%7Eme/%5F%2D', '/~me/_-'],
  ['/a%3Ab%40c', '/a:b@c'],
  ['/v1/models/gemini%3agenerateContent', '/v1/models/gemini:generateContent'],
  ['/a%21%24%26%27%28%29%2A%2C%3D', "/a!$&'()*,="],
  ['/a%2b', '/a%2B'],
  ['/a%3b', '/a%3B'],
  ['/a%3f', '/a%3F'],
  ['/a%23', '/a%23'],
  ['/a%20b', '/a%20b'],
  ['/a%25', '/a%25'],
  ['/a%25zz', '/a%25zz'],
  ['/caf%c3%a9', '/caf%C3%A9'],
  ['/%F0%9F%98%80', '/%F0%9F%98%80'],
  ['/%E4%B8%AD%E6%96%87', '/%E4%B8%AD%E6%96%87'],
  ['/e%CC%81', '/e%CC%81'],
  ['/a{b}|c^`"<>[]', '/a%7Bb%7D%7Cc%5E%60%22%3C%3E%5B%5D'],
  ['/a%7bb', '/a%7Bb'],
  ['/', '/'],
  ['/.', '/'],
  ['/..', '/'],
  ['/?x=1', '/?x=1'],
  ['/a/../b?q=%2F..%2F%00;&r=%252e', '/b?q=%2F..%2F%00;&r=%252e'],
  ['/x/%2e%2e/admin?y', '/admin?y'],
  ['/v1/messages', '/v1/messages'],
  ['/v1/messages?beta=true', '/v1/messages?beta=true'],
];

// [given, what is refused, the allowance that would let it through]
const REFUSED: [string, string, string?][] = [
  ['/admin%2Fusers', '%2F', '%2F'],
  ['/admin%2fusers', '%2F', '%2F'],
  ['/%2e%2e%2fadmin', '%2F', '%2F'],
  ['/admin%5Cusers', '%5C', '%5C'],
  ['/admin%5cusers', '%5C', '%5C'],
  ['/admin\\users', 'backslash'],
  ['/x\\..\\admin', 'backslash'],
  ['/admin%00', '%00', '%00'],
  ['/admin%00.json', '%00', '%00'],
  ['/%252e/admin', '%25', '%25'],
  ['/%252E%252E/admin', '%25', '%25'],
  ['/admin%252Fusers', '%25', '%25'],
  ['/%25%32%65/admin', '%25', '%25'],
  ['/%25%34%31', '%25', '%25'],
  ['/%C0%AE%C0%AE/admin', 'invalid-utf8', 'invalid-utf8'],
  ['/%c0%ae/admin', 'invalid-utf8', 'invalid-utf8'],
  ['/%E0%80%AE', 'invalid-utf8', 'invalid-utf8'],
  ['/%FF', 'invalid-utf8', 'invalid-utf8'],
  ['/caf%E9', 'invalid-utf8', 'invalid-utf8'],
  ['/%C3', 'invalid-utf8', 'invalid-utf8'],
  ['/%ED%A0%80', 'invalid-utf8', 'invalid-utf8'],
  ['/admin%EF%BC%8Fusers', 'unicode-ascii'],
  ['/admin%ef%bc%bcusers', 'unicode-ascii'],
  ['/x/%EF%BC%8E%EF%BC%8E/admin', 'unicode-ascii'],
  ['/x/.%EF%BC%8E/admin', 'unicode-ascii'],
  ['/x/%E2%80%A5/admin', 'unicode-ascii'],
  ['/%EF%BC%A1dmin/users', 'unicode-ascii'],
  ['/%EF%AC%81le', 'unicode-ascii'],
  ['/admin;x/users', ';', ';'],
  ['/x/..;/admin/users', ';', ';'],
  ['/admin;', ';', ';'],
  ['/admin%0A', 'control'],
  ['/admin%0d%0aSet-Cookie:x', 'control'],
  ['/admin%09', 'control'],
  ['/admin%7F', 'control'],
  ['/admin%', 'bad-percent'],
  ['/admin%4', 'bad-percent'],
  ['/admin%zz', 'bad-percent'],
  ['/%%32%65/admin', 'bad-percent'],
  ['/admin#x', 'fragment'],
  ['/a?b#c', 'fragment'],
  ['admin/users', 'not-a-path'],
  ['*', 'not-a-path'],
  ['http://api.example.test/admin', 'not-a-path'],
  ['', 'not-a-path'],
  ['/admin users', 'raw-byte'],
  ['/admin\tusers', 'raw-byte'],
  ['/admin\x00', 'raw-byte'],
  ['/caf\u00e9', 'raw-byte'],
  ['/a?b=\u00e9', 'raw-byte'],
  ['/a?b=\r\nX: y', 'raw-byte'],
];

describe('canonical paths', () => {
  describe('spellings a server reads as one path come out as that path', () => {
    for (const [given, want] of SAME) {
      it(`${JSON.stringify(given)} -> ${want}`, () =>
        expect(canonicalPath(given)).to.deep.equal({ ok: true, path: want }));
    }
  });

  describe('what servers read differently is refused, naming it', () => {
    for (const [given, what, allowable] of REFUSED) {
      it(`${JSON.stringify(given)}: ${what}`, () => {
        const r = canonicalPath(given);
        expect(r.ok).to.equal(false);
        if (r.ok) return;
        expect(r.what).to.equal(what);
        expect(r.reason).to.be.a('string').and.not.equal('');
        expect(r.allowable).to.equal(allowable);
      });
    }
  });

  it('the canonical form is a fixed point: every link after the first passes it through unchanged', () => {
    for (const [given] of SAME) {
      const once = canonicalPath(given);
      if (!once.ok) throw new Error(given);
      expect(canonicalPath(once.path), given).to.deep.equal(once);
    }
    for (const [given, , allowable] of REFUSED) {
      if (!allowable) continue;
      const once = canonicalPath(given, [allowable]);
      if (!once.ok) continue; // refused for a second reason (below)
      expect(canonicalPath(once.path, [allowable]), given).to.deep.equal(once);
    }
  });

  it(
    '20000 random spellings: each is refused, or canonical (no dot or empty segment, no encoded unreserved, ' +
      'upper-case hex) and a fixed point',
    () => {
      const parts = [
        '/',
        '/',
        'a',
        'B',
        '.',
        '..',
        '%2e',
        '%2E',
        '%61',
        '%7e',
        '%3a',
        '%2b',
        ':',
        '~',
        '%25',
        '%41',
        '%2F',
        '%5c',
        ';',
        '\\',
        '%C3%A9',
        '%c0%ae',
        '?',
        '{',
        '%',
      ];
      let seed = 16;
      const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
      let accepted = 0;
      for (let n = 0; n < 20000; n++) {
        let path = '/';
        const length = 1 + Math.floor(random() * 8);
        for (let i = 0; i < length; i++) path += parts[Math.floor(random() * parts.length)];
        const r = canonicalPath(path);
        if (!r.ok) continue;
        accepted++;
        const bare = r.path.split('?')[0];
        expect(bare, path).to.not.match(
          /\/\.{1,2}(\/|$)|\/\/|%(?:[0-9A-F][a-f]|[a-f][0-9A-Fa-f])|%(?:[46][1-9A-F]|[57][0-9A]|3[0-9]|2D|2E|5F|7E)/,
        );
        expect(canonicalPath(r.path), path).to.deep.equal(r);
      }
      expect(accepted, 'spellings accepted').to.be.above(1000);
    },
  );

  describe('an allowance keeps what it names as written (hex in upper case), and nothing else', () => {
    const ALLOWED: [string, string, string][] = [
      ['%2F', '/projects/group%2fname/issues', '/projects/group%2Fname/issues'],
      ['%2F', '/a/./b%2Fc/../d', '/a/d'],
      ['%5C', '/a%5cb', '/a%5Cb'],
      ['%00', '/a%00b', '/a%00b'],
      ['%25', '/a%252e', '/a%252e'],
      ['%25', '/files/100%2541', '/files/100%2541'],
      ['invalid-utf8', '/caf%e9', '/caf%E9'],
      [';', '/items;v=2/x', '/items;v=2/x'],
      [';', '/a/b;x/../c', '/a/c'],
    ];
    for (const [allowance, given, want] of ALLOWED) {
      it(`${allowance}: ${given} -> ${want}`, () =>
        expect(canonicalPath(given, [allowance])).to.deep.equal({ ok: true, path: want }));
    }

    it('one allowance does not open another', () => {
      expect(canonicalPath('/a%5Cb', ['%2F']).ok).to.equal(false);
      expect(canonicalPath('/a%2Fb', ['%5C', ';', '%25', '%00', 'invalid-utf8']).ok).to.equal(false);
      expect(canonicalPath('/a\\b', [...PATH_ALLOWANCES]).ok, 'a raw backslash has no allowance').to.equal(false);
      expect(canonicalPath('/a%0A', [...PATH_ALLOWANCES]).ok, 'nor an encoded control character').to.equal(false);
    });

    it('a dot segment hidden by what an allowance lets through is still refused', () => {
      for (const [allowance, given] of [
        [';', '/x/..;/admin/users'],
        [';', '/x/.;x/admin'],
        ['%00', '/x/..%00/admin'],
        ['%2F', '/x%2F..%2Fadmin'],
        ['%2F', '/x/..%2Fadmin'],
        ['%5C', '/x%5C..%5Cadmin'],
        ['%2F', '/x/%2e%2e%2fadmin'],
      ]) {
        const r = canonicalPath(given, [allowance]);
        expect(r, `${allowance} ${given}`).to.deep.include({ ok: false, what: 'hidden-dot-segment' });
      }
    });

    it('runs of / are merged whatever is allowed (the forwarder merges them in what it sends)', () => {
      expect(canonicalPath('//admin//users', [...PATH_ALLOWANCES])).to.deep.equal({ ok: true, path: '/admin/users' });
    });
  });

  describe('RFC 3986 5.2.4 examples', () => {
    const RFC: [string, string][] = [
      ['/a/b/c/./../../g', '/a/g'],
      ['/b/c/./g', '/b/c/g'],
      ['/b/c/../g', '/b/g'],
      ['/b/c/..', '/b/'],
      ['/b/c/.', '/b/c/'],
      ['/b/c/g.', '/b/c/g.'],
      ['/b/c/.g', '/b/c/.g'],
      ['/b/c/g..', '/b/c/g..'],
      ['/b/c/..g', '/b/c/..g'],
      ['/b/c/g/./h', '/b/c/g/h'],
      ['/b/c/g/../h', '/b/c/h'],
      ['/../g', '/g'],
      ['/../../g', '/g'],
    ];
    for (const [given, want] of RFC) it(`${given} -> ${want}`, () => expect(removeDotSegments(given)).to.equal(want));
  });
});

describe('ingress.allow_in_paths in the plan', () => {
  const plan = (yaml: string) => planFromYaml(yaml, 'p');

  it("reaches every Moat process, a third-party hop's link too (each reads the path again); the default none", () => {
    const specs = (yaml: string) => plan(yaml).processes.map((x) => [x.id, x.spec?.allowInPaths]);
    expect(specs('proxies: [moat-policy, tinyproxy]\n').every(([, a]) => a === undefined)).to.equal(true);
    expect(specs('proxies: [moat-policy, tinyproxy]\ningress:\n  allow_in_paths: ["%2F", ";"]\n')).to.deep.equal([
      ['0-ingress', ['%2F', ';']],
      ['1-moat-policy', ['%2F', ';']],
      ['2-link', ['%2F', ';']],
      ['2-tinyproxy', undefined],
      ['3-egress', ['%2F', ';']],
    ]);
  });

  it('a misspelt entry is refused at load, naming the key and what it may be', () => {
    expect(() => parseConfig('proxies: [moat-policy]\ningress:\n  allow_in_paths: ["%2f"]\n', 'moat.yaml')).to.throw(
      /moat\.yaml:3:\d+: ingress\.allow_in_paths\[0\]: must be one of "%2F"/,
    );
  });
});
