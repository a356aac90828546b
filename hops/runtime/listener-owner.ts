// Who listens on a port of 127.0.0.1? A Moat process writes a credential in clear (an entrance line, a
// Proxy-Authorization on CONNECT or absolute-form http, a trace claim) only to a listener of its own user. While a
// process of the chain restarts (a crash, pm2, the hung-hop watchdog) its port is free, and another local user could
// bind it and collect what the process before it sends; the kernel's table of sockets says whose a listener is.
// (Link TLS needs no such check: the listener proves itself with a leaf of the Moat CA before anything is sent.)
import { readFileSync } from 'node:fs';

/**
 * The uid owning the socket listening on 127.0.0.1:port (or every address), from /proc/net/tcp's text; undefined if
 * none.
 */
export function listenerUid(port: number, table: string): number | undefined {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid ...; st 0A is LISTEN.
    if (f.length > 7 && f[3] === '0A' && (f[1] === `0100007F:${hex}` || f[1] === `00000000:${hex}`))
      return Number(f[7]);
  }
  return undefined;
}

/**
 * Is the listener on 127.0.0.1:port this process's user's? Where the kernel's table cannot be read (not Linux), the
 * check cannot be made and says yes: the limit is documented (docs/architecture.md, Credentials per link).
 */
export function listenerIsOurs(port: number, uid: number | undefined = process.getuid?.()): boolean {
  let table: string;
  try {
    table = readFileSync('/proc/net/tcp', 'latin1');
  } catch {
    return true;
  }
  if (uid === undefined) return true;
  return listenerUid(port, table) === uid;
}
