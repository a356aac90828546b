// Per-request CPU of moat-policy's DLP on a typical 50 KB Anthropic messages body: the raw detectors alone
// (before issue 16) against the decoded reading (hops/dlp/decoded-views.ts). `node dist/test/bench/dlp-read.js`.
import { findSecrets, findSecretsDecoded } from '../../hops/dlp';

function messagesBody(bytes: number, escapeNonAscii: boolean): string {
  const turns: { role: string; content: string }[] = [];
  const prose =
    'The function reads the config file, checks each rule and returns the first match; naïve "quotes" ' +
    'and\nnew lines included. ';
  while (JSON.stringify(turns).length < bytes)
    turns.push({
      role: turns.length % 2 ? 'assistant' : 'user',
      content: prose.repeat(8) + ` tool id toolu_01A09q90qw90lq917835lq9${turns.length}`,
    });
  const body = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 1024, messages: turns });
  return escapeNonAscii
    ? body.replace(/[\u0080-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
    : body;
}

/** The best of 7 rounds of n runs, in ms per run: the machine is shared, the best round is the code's own cost. */
function time(label: string, run: () => unknown, n = 100): void {
  for (let i = 0; i < 20; i++) run();
  let best = Infinity;
  for (let round = 0; round < 7; round++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) run();
    best = Math.min(best, (performance.now() - t) / n);
  }
  console.log(`${label}: ${best.toFixed(3)} ms`);
}

const plain = messagesBody(50_000, false);
const escaped = messagesBody(50_000, true);
const image = JSON.stringify({
  model: 'm',
  messages: [
    {
      role: 'user',
      content: [
        {
          type: 'image',
          source: {
            type: 'base64',
            data: Buffer.from(Array.from({ length: 150_000 }, (_, i) => (i * 2654435761) >>> 24)).toString('base64'),
          },
        },
        { type: 'text', text: plain.slice(0, 20_000) },
      ],
    },
  ],
});
for (const [name, body] of [
  ['50 KB JSON (JSON.stringify)', plain],
  ['50 KB JSON with \\u escapes (ensure_ascii)', escaped],
  [`${Math.round(image.length / 1000)} KB with a 200 KB base64 image`, image],
] as const) {
  time(`${name}, raw detectors`, () => findSecrets(body));
  time(`${name}, decoded reading`, () => findSecretsDecoded(body), name.includes('image') ? 20 : 100);
}
