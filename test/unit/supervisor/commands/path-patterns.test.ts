// policy learn's generalisation: a place in the path with 3+ distinct id-like values becomes *, nothing else does.
import { expect } from 'chai';
import { looksLikeId, pathPatterns } from '../../../../supervisor/commands/path-patterns';

const patterns = (paths: string[]) =>
  pathPatterns(new Map(paths.map((p) => [p, 1]))).map((p) => `${p.pattern} ${p.count}/${p.paths}`);

describe('path-patterns: paths generalised where ids vary', () => {
  const ID_LIKE = ['123', 'abc123', 'msg_01XyZabc', '3f2b8c1e-4a5d-4e6f-9a0b-1c2d3e4f5a6b', '2024-01-31'];
  const WORDS = ['v1', 'messages', 'gpt4', 'threads', ''];
  it('numbers and 6+ id characters holding a digit look like ids; words do not', () => {
    expect(ID_LIKE.filter((s) => !looksLikeId(s))).to.deep.equal([]);
    expect(WORDS.filter(looksLikeId)).to.deep.equal([]);
  });

  const table: [string, string[], string[]][] = [
    [
      'three thread ids become one *',
      ['/v1/threads/abc123/runs', '/v1/threads/def456/runs', '/v1/threads/0a1b2c/runs'],
      ['/v1/threads/*/runs 3/3'],
    ],
    [
      'two ids are not enough',
      ['/v1/threads/abc123/runs', '/v1/threads/def456/runs'],
      ['/v1/threads/abc123/runs 1/1', '/v1/threads/def456/runs 1/1'],
    ],
    [
      'words are never generalised',
      ['/v1/messages', '/v1/models', '/v1/complete', '/v1/files'],
      ['/v1/complete 1/1', '/v1/files 1/1', '/v1/messages 1/1', '/v1/models 1/1'],
    ],
    [
      'ids among words: only the ids merge',
      ['/v1/users/1', '/v1/users/2', '/v1/users/3', '/v1/users/me'],
      ['/v1/users/* 3/3', '/v1/users/me 1/1'],
    ],
    [
      'what follows the merged ids is merged, then generalised again',
      ['/t/1/r/aa1111', '/t/2/r/bb2222', '/t/3/r/cc3333', '/t/3/steps'],
      ['/t/*/r/* 3/3', '/t/*/steps 1/1'],
    ],
    ['a trailing slash is kept', ['/v1/models/', '/v1/models'], ['/v1/models 1/1', '/v1/models/ 1/1']],
    ['the root', ['/'], ['/ 1/1']],
    ['two places vary', ['/o/11/p/21', '/o/12/p/22', '/o/13/p/23'], ['/o/*/p/* 3/3']],
  ];
  for (const [what, paths, want] of table) it(what, () => expect(patterns(paths)).to.deep.equal(want));

  it('counts requests, not only paths', () => {
    const p = pathPatterns(
      new Map([
        ['/a/111111', 5],
        ['/a/222222', 2],
        ['/a/333333', 1],
      ]),
    );
    expect(p).to.deep.equal([{ pattern: '/a/*', count: 8, paths: 3 }]);
  });
});
