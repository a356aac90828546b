// Node programs an agent might be, written to files for `moat chain run -- node <file>`: each makes one request
// with a common client, the way an agent written in Node does (no proxy code of its own), and prints
// `<status> <body>` or `error <message>`. Shared by the e2e and security tests of the Node preload.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { egressTo } from './cli-chain';
import { chainFixture } from './chain-fixture';
import { tmpDir } from './tmp';

const AXIOS = JSON.stringify(require.resolve('axios'));
const UNDICI = JSON.stringify(require.resolve('undici'));

// Prints what a program would print of an error: its message, code and cause's.
const REPORT = `
const report = (e) => { console.log('error', e && e.message, e && e.code, e && e.cause && e.cause.message); process.exitCode = 1; };
const url = process.argv[2];
`;

export const CLIENTS = {
  fetch: `${REPORT}
fetch(url).then(async (r) => console.log(r.status, await r.text()), report);
`,
  'https.get': `${REPORT}
const lib = url.startsWith('https:') ? require('node:https') : require('node:http');
lib.get(url, (r) => { let b = ''; r.setEncoding('utf8'); r.on('data', (d) => (b += d)); r.on('end', () => console.log(r.statusCode, b)); }).on('error', report);
`,
  axios: `${REPORT}
require(${AXIOS}).get(url, { responseType: 'text', transformResponse: (d) => d, validateStatus: () => true })
  .then((r) => console.log(r.status, r.data), report);
`,
  'undici.request': `${REPORT}
require(${UNDICI}).request(url).then(async (r) => console.log(r.statusCode, await r.body.text()), report);
`,
} as const;

export type ClientName = keyof typeof CLIENTS;

/** Writes each client to dir and returns its file. */
export function writeClients(dir: string): Record<ClientName, string> {
  const files = {} as Record<ClientName, string>;
  for (const [name, text] of Object.entries(CLIENTS)) {
    const file = join(dir, `${name.replace('.', '-')}.js`);
    writeFileSync(file, text);
    files[name as ClientName] = file;
  }
  return files;
}

/**
 * Inside a describe: a chain with one hop whose egress reaches the fake provider as api.anthropic.com, and the
 * clients written to a temporary directory removed after the tests.
 */
export function nodeClientsChain(prefix: string) {
  const dir = tmpDir(prefix);
  const fixture = chainFixture({ config: (p) => `proxies:\n  - moat-telemetry\n${egressTo(p.port)}\n` });
  after(() => dir.remove());
  return { ...fixture, dir, clients: writeClients(dir.path) };
}
