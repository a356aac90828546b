/* Generated from schemas/hop-manifest.schema.json by `npm run gen`. Do not edit. */

/**
 * contrib-proxies/<name>/manifest.yaml: how moat launches one third-party proxy, sets its port and upstream, and makes
 * it trust the Moat CA.
 */
export interface HopManifest {
  /**
   * The short name used in moat.yaml's proxies list; equals the manifest's directory under contrib-proxies/ (e.g.
   * chopratejas/headroom).
   */
  name: string;
  /**
   * One line: what the proxy does.
   */
  summary: string;
  /**
   * The upstream project's home page or repository.
   */
  project: string;
  /**
   * The version this manifest was written and checked against.
   */
  version_checked: string;
  /**
   * How to install the proxy, shown when its binary is missing at `moat chain up`.
   */
  install: string;
  /**
   * How the Moat link in front of the hop speaks to it: forward (an HTTP proxy taking CONNECT and absolute-form
   * requests) or base_url (a reverse proxy for one API, sent plain origin-form requests, and only those in its scope).
   */
  kind: 'forward' | 'base_url';
  /**
   * argv of the proxy, with the placeholders of moat.yaml's long form: {port}, {upstream}, {upstream_base},
   * {upstream_host}, {upstream_port}, {upstream_auth}, {dir}, {ca}, {ca_bundle}, {intercept_hosts}.
   *
   * @minItems 1
   */
  command: [string, ...string[]];
  /**
   * Environment of the proxy, with the same placeholders.
   */
  env?: {
    [k: string]: string;
  };
  /**
   * Files rendered into the hop's directory before it starts (path to template), with the same placeholders; moat.yaml
   * replaces one with {use: NAME, files: {PATH: ...}}.
   */
  files?: {
    [k: string]: string;
  };
  /**
   * The CA a TLS-intercepting proxy signs with (placeholders allowed); the link in front of the hop trusts it.
   */
  trust_ca?: string;
  scope?: Scope;
  /**
   * True when the proxy cannot be told to listen on 127.0.0.1 only; plan and up warn about it.
   */
  listens_on_all_interfaces?: boolean;
  /**
   * True for a proxy that enforces policy (agentreserve): `moat chain replay --skip-hop` and `bisect` never skip it.
   */
  policy?: boolean;
  /**
   * True when the proxy connects to destinations itself and cannot be given an upstream: it is accepted only as the
   * last hop, and the link in front of it applies egress.allow and egress.extra_ca and sends it no chain token.
   */
  dials_directly?: boolean;
  changes?: Changes;
  /**
   * How the link in front of a forward hop hands it HTTPS traffic: tunnel (default) sends CONNECT and TLS that the next
   * link terminates, so the hop sees only hosts unless it intercepts TLS itself; plain sends the request as plain
   * absolute-form HTTP over loopback, so a proxy that cannot intercept TLS sees the content, and the next link sends it
   * on as HTTPS again.
   */
  tls?: 'tunnel' | 'plain';
}
/**
 * The traffic a base_url hop serves; other requests skip it (recorded as skipped). moat.yaml can override it per hop.
 */
export interface Scope {
  /**
   * Host globs, e.g. api.anthropic.com.
   *
   * @minItems 1
   */
  hosts: [string, ...string[]];
  /**
   * Path prefixes, e.g. /v1/messages; empty or absent means every path.
   */
  paths?: string[];
}
/**
 * Declares that the hop sends traffic on to another host or in another API format, e.g. Anthropic /v1/messages turned
 * into OpenAI chat completions.
 */
export interface Changes {
  /**
   * The host the hop's traffic goes to after it.
   */
  host: string;
  /**
   * The API format after the hop, e.g. openai-chat-completions.
   */
  api?: string;
}
