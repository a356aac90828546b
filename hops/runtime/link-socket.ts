// The abstract Unix socket a Moat process takes link TLS on from the Moat process before it (LinkSpec.socket; Linux).
// An abstract socket has no file: it belongs to the network namespace it was made in, so an isolated hop or the agent
// of `run --transparent` (each in a namespace of its own) cannot reach it, as they cannot reach the chain's ports; and
// it goes with its process, so a killed process leaves nothing at its name.
import type net from 'node:net';

/** The address Node connects to and listens on for the socket `name` (a leading NUL makes it abstract). */
export function linkSocketAddress(name: string): string {
  return `\0${name}`;
}

/** Listens on the socket `name`; refused, naming it, when another process holds it. */
export async function listenOnLinkSocket(server: net.Server, name: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`its link socket @${name} is held by another process`)
          : new Error(`cannot listen on its link socket @${name}: ${err.message}`),
      ),
    );
    server.listen(linkSocketAddress(name), () => {
      server.removeAllListeners('error');
      // From here an error is one connection's that could not be accepted (too many open files): the listener stays.
      server.on('error', () => undefined);
      resolve();
    });
  });
}
