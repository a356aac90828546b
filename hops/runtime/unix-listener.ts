// A listener on a Unix socket in the chain's private directory: link TLS from the Moat process before this one
// (LinkSpec.socket). A socket's file outlives a process that was killed, so the next start finds it there.
import { chmodSync, lstatSync, rmSync } from 'node:fs';
import type net from 'node:net';

/** Listens on `path`, in place of a socket file (or a symbolic link) left there; only this user may connect. */
export async function listenOnPath(server: net.Server, path: string): Promise<void> {
  removeLeftover(path);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.removeListener('error', reject);
      // The chain's umask (077) made it so already; said here so that no other umask can widen it.
      chmodSync(path, 0o600);
      resolve();
    });
  });
}

function removeLeftover(path: string): void {
  let found;
  try {
    found = lstatSync(path);
  } catch {
    return; // nothing there
  }
  // A link is removed, never followed: what it points to stays as it is.
  if (found.isSocket() || found.isSymbolicLink()) return rmSync(path);
  throw new Error(`${path} is in the way of this process's socket and is not a socket; remove it`);
}
