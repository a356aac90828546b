// One ingress LinkServer on port 0 inside the test process, with a fresh CA and token under `home`, forwarding to one
// next hop: for tests of a link's own deadlines and probes on real sockets, with no chain around it.
import type http from 'node:http';
import type net from 'node:net';
import { LinkServer, type LinkServerOptions } from '../../hops/runtime/link-server';
import { LeafCache } from '../../hops/tls/leaf-cache';
import { Forwarder } from '../../hops/runtime/forwarder';
import type { LinkSpec, NextHop } from '../../hops/spec';
import { stateLayout, newToken } from '../../supervisor/chain/state';
import { ensureCa } from '../../supervisor/chain/ca';

/** The Proxy-Authorization value for a chain token. */
export function basicAuth(token: string): string {
  return `Basic ${Buffer.from(`moat:${token}`).toString('base64')}`;
}

export interface TestIngress {
  server: LinkServer;
  spec: LinkSpec;
  forwarder: Forwarder;
  /** Proxy-Authorization with this ingress's token. */
  auth: string;
  /** The Moat CA's certificate (PEM), which signs the leaves. */
  ca: string;
  /** The leaves this ingress serves (a test's next hop may serve HTTPS with them). */
  leaves: LeafCache;
}

export interface TestIngressOptions {
  home: string;
  next: NextHop;
  /** How the link reaches `next` (LinkSpec.onward). */
  onward: LinkSpec['onward'];
  /** What the forwarder sends as Proxy-Authorization to the next hop, and what authorizationTo answers. */
  forwarderAuthorization: 'token' | 'none';
  linkAuthorization: 'token' | 'none';
  /** More LinkServer options (timeouts). */
  server?: Partial<LinkServerOptions>;
}

export async function startTestIngress(o: TestIngressOptions): Promise<TestIngress> {
  const layout = stateLayout('t', o.home);
  ensureCa(layout);
  const token = newToken(layout);
  const auth = basicAuth(token);
  const leaves = new LeafCache(layout);
  const ca = leaves.caCertPem;
  const spec: LinkSpec = {
    chain: 't',
    role: 'ingress',
    hop: 0,
    name: 'ingress',
    host: '127.0.0.1',
    port: 0,
    tokenFile: layout.tokenFile,
    caCertFile: layout.caCertFile,
    caKeyFile: layout.caKeyFile,
    leafKeyFile: layout.leafKeyFile,
    onward: o.onward,
  };
  const proxyAuthorization = o.forwarderAuthorization === 'token' ? auth : '';
  const forwarder = new Forwarder({ kind: 'next', next: o.next, proxyAuthorization, trustedCa: [ca] });
  const linkAuthorization = o.linkAuthorization === 'token' ? auth : '';
  const server = new LinkServer({
    spec,
    token,
    authorizationTo: () => linkAuthorization,
    entranceTo: () => undefined,
    leaves,
    forwarder,
    logic: {},
    log: () => undefined,
    ...o.server,
  });
  await server.listen();
  return { server, spec, forwarder, auth, ca, leaves };
}

/**
 * startTestIngress in front of `next`, a plain HTTP server it starts on 127.0.0.1 and reaches as a forward hop, with
 * no credential towards it.
 */
export async function startTestIngressBefore(
  next: http.Server,
  home: string,
  server?: Partial<LinkServerOptions>,
): Promise<TestIngress> {
  await new Promise<void>((r) => next.listen(0, '127.0.0.1', r));
  const hop = { port: (next.address() as net.AddressInfo).port, hop: 1, name: 'next' };
  return startTestIngress({
    home,
    next: hop,
    onward: { kind: 'forward_hop', next: hop, beyond: hop },
    forwarderAuthorization: 'none',
    linkAuthorization: 'none',
    server,
  });
}
