// The I/O around hops/logic/inflight.ts. A link in front of a third-party hop answers
// `GET /_moat/claim?method=&host=&path=` on its own listener (chain token required); the process
// after that hop asks it when a request arrives without x-moat-trace.
import http from 'node:http';
import type { ClaimQuery } from '../logic/inflight';
import { EntranceHttpAgent } from './forwarder';

export const CLAIM_PATH = '/_moat/claim';
// A local round trip takes well under a millisecond; past this the request goes on unmatched.
const CLAIM_TIMEOUT_MS = 250;

export class TraceClaimer {
  // The claim carries this process's credential: only to a listener of this user (hop-entrance.ts).
  private readonly agent = new EntranceHttpAgent(undefined, { keepAlive: true, maxSockets: 16 });

  constructor(
    private readonly linkPort: number,
    private readonly proxyAuthorization: string,
    private readonly log: (line: string) => void,
  ) {}

  /** The trace the link in front of the previous hop sent this request with, if it can tell. */
  claim(q: ClaimQuery): Promise<string | undefined> {
    const query = new URLSearchParams({ method: q.method, host: q.host, path: q.path }).toString();
    return new Promise((resolve) => {
      const req = http.get(
        {
          host: '127.0.0.1',
          port: this.linkPort,
          path: `${CLAIM_PATH}?${query}`,
          agent: this.agent,
          timeout: CLAIM_TIMEOUT_MS,
          headers: { 'proxy-authorization': this.proxyAuthorization },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => {
            try {
              const trace = (JSON.parse(text) as { trace?: unknown }).trace;
              resolve(typeof trace === 'string' && trace ? trace : undefined);
            } catch {
              resolve(undefined);
            }
          });
          res.on('error', () => resolve(undefined));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${CLAIM_TIMEOUT_MS} ms`)));
      req.on('error', (err) => {
        this.log(`correlation: cannot ask the link on port ${this.linkPort}: ${err.message}`);
        resolve(undefined);
      });
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
