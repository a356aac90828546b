// The three long-form test hops of issue 20 (test/fixtures/rewriting-proxy.ts), each its own contrib hop, as moat.yaml
// `proxies:` lines: 1 sysprompt (--rewrite-system), 2 buffering (--buffer-sse), 3 dropping (--drop-event-lines).
// Shared by the e2e tests of the prompt-cache guard, stream health and bisect.
import { join } from 'node:path';
import { DIST_DIR } from './repo-root';

const REWRITER = join(DIST_DIR, 'test', 'fixtures', 'rewriting-proxy.js');

const hop = (name: string, mode: string) => `  - name: ${name}
    command: ["${process.execPath}", "${REWRITER}", --port, "{port}", --dir, "{dir}/ca", --trust, "{ca}", ${mode}]
    trust_ca: "{dir}/ca/ca.crt"`;

export const WHICH_HOP_HOPS = [
  hop('sysprompt', '--rewrite-system'),
  hop('buffering', '--buffer-sse'),
  hop('dropping', '--drop-event-lines'),
].join('\n');
