// An agent's createConnection hands a TLS socket opened inside a tunnel over once it is secure, and an error
// instead if the handshake fails: shared by the Moat links' TunnelAgent and the agent-side Node preload.
import type tls from 'node:tls';
import type { Duplex } from 'node:stream';

export function handOverWhenSecure(
  secure: tls.TLSSocket,
  callback: (err: Error | null, socket?: Duplex) => void,
): void {
  const onError = (err: Error) => callback(err);
  secure.once('error', onError);
  secure.once('secureConnect', () => {
    secure.removeListener('error', onError);
    callback(null, secure);
  });
}
