// Egress's sockets to destinations check the address they connect to (hops/logic/address-guard.ts decides). The check
// sits in the socket's own `lookup`, so the address checked is the address connected to: a name that answers a public
// address to one query and 127.0.0.1 to the next (DNS rebinding) has no second query to win. An IP literal skips lookup
// in Node, so it is checked before the socket is made. A host egress.allow or egress.resolve names exactly
// (namedExactly, egress-allow.ts) is dialled without this check: the operator chose what it reaches.
// `any`: Node's lookup callback has overloads the agent options do not type.
/* eslint-disable @typescript-eslint/no-explicit-any */
import dns, { type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { ADDRESS_CLASS_WORDS, ADDRESS_REFUSED, addressRefusal, type AddressClass } from '../logic/address-guard';

export { ADDRESS_REFUSED };

/** A destination whose address egress will not connect to; describeFailure turns it into 403 egress_address_refused. */
export class AddressRefusedError extends Error {
  readonly code = ADDRESS_REFUSED;
  constructor(
    readonly host: string,
    readonly addressClass: AddressClass,
  ) {
    const literal = net.isIP(host) !== 0;
    super(
      `egress refused to connect to ${host}: ${literal ? 'it is' : 'it resolves to'} ` +
        `${ADDRESS_CLASS_WORDS[addressClass]}, which only a host egress.allow or egress.resolve names exactly ` +
        `reaches (a glob is not enough)` +
        (addressClass === 'private' ? ', or egress.allow_private_addresses: true' : ''),
    );
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
export type Lookup = (hostname: string, options: dns.LookupOptions, callback: LookupCallback) => void;

/**
 * dns.lookup, keeping only addresses egress may connect to; none left: AddressRefusedError. Answers of both kinds
 * (`all: true`, which Node's happy eyeballs asks for, and one address).
 */
export function guardedLookup(allowPrivate: boolean, resolve: typeof dns.lookup = dns.lookup): Lookup {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, answers) => {
      if (err) return callback(err, options.all ? [] : '');
      const list = answers as LookupAddress[];
      const refusals = list.map((a) => addressRefusal(a.address, { named: false, allowPrivate }));
      const allowed = list.filter((_, i) => refusals[i] === undefined);
      if (allowed.length === 0) {
        const cls = refusals.find((r) => r !== undefined) ?? 'reserved';
        return callback(new AddressRefusedError(hostname, cls), options.all ? [] : '');
      }
      if (options.all) return callback(null, allowed);
      callback(null, allowed[0].address, allowed[0].family);
    });
  };
}

/**
 * The connection options with the guarded lookup, or the refusal of an IP literal (which Node connects to without
 * a lookup).
 */
export function guardDial<T extends { host?: string | null }>(
  options: T,
  allowPrivate: boolean,
): (T & { lookup: Lookup }) | AddressRefusedError {
  const host = String(options.host ?? 'localhost');
  if (net.isIP(host)) {
    const cls = addressRefusal(host, { named: false, allowPrivate });
    if (cls) return new AddressRefusedError(host, cls);
  }
  return { ...options, lookup: guardedLookup(allowPrivate) };
}

type Created = (err: Error | null, socket: Duplex) => void;

/** An agent's connection that is not made: the refusal goes to the callback, as a failed connect would. */
function refused(err: Error, callback: Created | undefined): undefined {
  process.nextTick(() => callback?.(err, undefined as unknown as Duplex));
  return undefined;
}

/** Plain HTTP to destinations egress.allow reaches only by a glob: every socket checked (guardDial). */
export class GuardedHttpAgent extends http.Agent {
  constructor(
    private readonly allowPrivate: boolean,
    options: http.AgentOptions,
  ) {
    super(options);
  }

  override createConnection(options: http.ClientRequestArgs, callback?: Created): Duplex | undefined {
    const guarded = guardDial(options, this.allowPrivate);
    if (guarded instanceof Error) return refused(guarded, callback);
    return (http.Agent.prototype as any).createConnection.call(this, guarded, callback);
  }
}

/**
 * HTTPS to destinations egress.allow reaches only by a glob: every socket checked (guardDial); Nagle off as
 * NoDelayHttpsAgent.
 */
export class GuardedHttpsAgent extends https.Agent {
  constructor(
    private readonly allowPrivate: boolean,
    options: https.AgentOptions,
  ) {
    super(options);
  }

  override createConnection(options: http.ClientRequestArgs, callback?: Created): Duplex | undefined {
    const guarded = guardDial(options, this.allowPrivate);
    if (guarded instanceof Error) return refused(guarded, callback);
    const socket = (https.Agent.prototype as any).createConnection.call(this, guarded, callback) as
      net.Socket | undefined;
    socket?.setNoDelay?.(true);
    return socket;
  }
}
