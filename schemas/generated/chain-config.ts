/* Generated from schemas/chain-config.schema.json by `npm run gen`. Do not edit. */

/**
 * A built-in hop (moat-telemetry, moat-policy) or the name of a manifest in contrib-proxies/.
 */
export type HopName = string;
/**
 * A built-in grant: anthropic (api.anthropic.com, x-api-key, ANTHROPIC_API_KEY), openai (api.openai.com, authorization:
 * Bearer, OPENAI_API_KEY) or gemini (generativelanguage.googleapis.com, x-goog-api-key, GEMINI_API_KEY or
 * GOOGLE_API_KEY).
 */
export type GrantName = string;

/**
 * moat.yaml: an ordered chain of proxies between an agent and the internet.
 */
export interface ChainConfig {
  /**
   * Name of the chain; chains with different names run side by side, each with its own state directory, ports and pm2
   * home.
   */
  name?: string;
  /**
   * The hops, in the order a request passes through them: a built-in hop name (moat-telemetry, moat-policy), the name
   * of a manifest in contrib-proxies/ (e.g. chopratejas/headroom, tinyproxy), a manifest with overrides ({use, ...}),
   * or a long-form third-party proxy ({name, command, ...}).
   */
  proxies: (HopName | ManifestHop | CommandHop)[];
  /**
   * Where the agent connects (link 0).
   */
  ingress?: {
    /**
     * Port ingress listens on; 0 picks a free port at `up`.
     */
    port?: number;
    /**
     * Seconds a request's body may take after its headers, plus 1 s per 500 bytes received; past that the client gets
     * 408 body_timeout and the connection is closed. Applies at every Moat process of the chain.
     */
    body_timeout_s?: number;
    /**
     * Encodings in request paths that servers read differently, which every Moat process refuses with 400
     * ambiguous_request unless named here; a named one is kept as written (not decoded), so the rules see the bytes the
     * server gets. %2F: an encoded slash (GitLab project ids, npm scoped names); %5C: an encoded backslash; %00: an
     * encoded NUL; %25: double encoding (%25 before two hex digits); invalid-utf8: encoded bytes that are not UTF-8; ;:
     * path parameters. Applies to every host.
     */
    allow_in_paths?: ('%2F' | '%5C' | '%00' | '%25' | 'invalid-utf8' | ';')[];
  };
  /**
   * What the moat-policy hop enforces: rules (agentreserve-compatible), DLP on outbound bodies, rate limits, hours,
   * budgets, MCP tool calls. Edits to this section apply without a restart.
   */
  policy?: {
    /**
     * enforce answers denials; report lets every request through and records what would have been denied (decision
     * would_deny).
     */
    mode?: 'enforce' | 'report';
    /**
     * Evaluated in order; the first rule whose match (and tool, for MCP rules) fits the request decides. No match
     * allows.
     */
    rules?: PolicyRule[];
    /**
     * Data-loss prevention: outbound request bodies are scanned for secrets; a finding answers 403 with the detector's
     * label, and the value is never logged or stored.
     */
    dlp?: {
      /**
       * Scan request bodies passing moat-policy.
       */
      enabled?: boolean;
      /**
       * Which detectors run (default: all).
       */
      detectors?: (
        | 'aws_access_key'
        | 'aws_secret_key'
        | 'openai_key'
        | 'anthropic_key'
        | 'github_token'
        | 'slack_token'
        | 'stripe_key'
        | 'google_api_key'
        | 'pem_private_key'
        | 'credential_file'
      )[];
    };
    /**
     * moat-policy holds at most this many bytes of a request body to inspect it (DLP, MCP tool calls) before
     * forwarding.
     */
    inspect_max_bytes?: number;
    /**
     * What happens to a body longer than inspect_max_bytes when it would be inspected: deny (413, fail closed) or allow
     * (forwarded uninspected, recorded as such).
     */
    oversize?: 'deny' | 'allow';
  };
  /**
   * Prices per million tokens by model name glob (first match wins), in the currency budgets use. Used for the
   * estimated cost in telemetry and for spending_limit max_amount.
   */
  prices?: {
    [k: string]: ModelPrice;
  };
  /**
   * The last link: the only process that talks to the internet.
   */
  egress?: {
    /**
     * Host globs egress may connect to at all; anything else is refused with 403 egress_denied. An address of this
     * machine (127.0.0.0/8, ::1, 0.0.0.0, link-local 169.254.0.0/16 and fe80::/10, localhost) is reached only when an
     * entry names it exactly: a glob such as * never opens it (the chain's own nats-server and local daemons listen
     * there). Egress checks the address each connection goes to as well, after resolution: a host admitted only by a
     * glob that resolves to this machine, link-local, a cloud metadata service, a private network, multicast or
     * reserved addresses is refused with 403 egress_address_refused (docs/policy.md, "Addresses egress refuses"). Names
     * are also checked by the link in front of a last hop that dials directly (agentreserve).
     */
    allow?: string[];
    /**
     * Let a host that egress.allow admits only by a glob resolve to a private network address (10.0.0.0/8,
     * 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, 198.18.0.0/15, fc00::/7). Off by default: egress checks the address
     * each connection goes to, after resolution, and refuses private, loopback, link-local, unspecified, multicast,
     * reserved and cloud metadata addresses (403 egress_address_refused) unless egress.allow or egress.resolve names
     * the host exactly. This switch opens only the private ranges, never this machine nor a metadata service.
     */
    allow_private_addresses?: boolean;
    /**
     * Map "host:port" to "address:port" (or "address", keeping the port), like curl's --resolve. The certificate is
     * still checked against the host name. A mapped host counts as named exactly: egress connects to the mapped address
     * whatever it is (127.0.0.1 for a local test provider, say); give the port when the address is a local one.
     */
    resolve?: {
      [k: string]: string;
    };
    /**
     * PEM files of extra certificate authorities egress trusts besides the system roots (and so does the link in front
     * of a hop that dials directly).
     */
    extra_ca?: string[];
    /**
     * How long egress waits for the provider's response headers before answering 504.
     */
    timeout_ms?: number;
    /**
     * A corporate HTTP proxy egress reaches destinations through, when the network allows the internet only through it:
     * CONNECT host:port for HTTPS (then TLS to the destination, verified as without it) and blind tunnels,
     * absolute-form for plain http://. egress.allow still applies by name. The proxy resolves the names, so egress's
     * address check applies only to connections it makes directly (hosts in bypass or egress.resolve, which go direct
     * as without a proxy). A 407 from the proxy answers the agent 502 upstream_proxy_auth, a proxy that cannot be
     * reached 502 upstream_proxy_unavailable; plan and status show its host:port, never its credentials.
     */
    upstream_proxy?: {
      /**
       * http://host:port of the proxy (no user or password in it: use credentials_env; no path).
       */
      url: string;
      /**
       * Name of the environment variable of `moat chain up` that holds the proxy's Basic credentials as user:password.
       * Read at up and handed to egress alone (through its process environment): never written to the plan, logs,
       * events or a command line. Unset or empty: up stops with MOAT_ERR_UPSTREAM_PROXY_CREDENTIALS.
       */
      credentials_env?: string;
      /**
       * Host globs egress reaches directly, not through the proxy (as egress.allow: * any run of characters, ? one).
       * Hosts egress.resolve maps go direct too.
       */
      bypass?: string[];
    };
  };
  /**
   * Which TLS connections moat decrypts. A CONNECT to a host outside intercept is tunnelled blind through every hop: no
   * Moat certificate, the agent sees the destination's own; moat-policy still decides on the host, egress.allow still
   * applies, no grant can add a key, and each boundary records the tunnel (bytes each way, duration) with intercepted:
   * false. Plain http:// requests are always seen.
   */
  tls?: {
    /**
     * Host globs whose CONNECT tunnels are TLS-terminated and inspected (* any run of characters, ? one; case ignored).
     * Default: every host.
     */
    intercept?: string[];
  };
  /**
   * Where per-hop events go.
   */
  events?: {
    /**
     * An existing NATS server (with JetStream) to publish to, e.g. nats://127.0.0.1:4222 or
     * nats://user:password@nats.internal:4222, possibly shared by chains on several machines; or the servers of a NATS
     * cluster as a comma-separated list (nats://user:password@a:4222,nats://b:4222, each with its scheme; the first
     * credentials in it are used for all), which every Moat process, the ledger writer, the dashboard and `moat ledger
     * serve` reconnect to in turn when one goes away. Without it moat runs its own nats-server on a free loopback port.
     * Credentials in it are never printed (plan, status, logs show ***).
     */
    nats_url?: string;
    /**
     * Who writes the chain's ledger. local: a ledger writer process of the chain, into <state>/ledger.db. central: no
     * local writer; `moat ledger serve` (on any machine that reaches events.nats_url, which is then required) writes
     * one ledger per chain into its own directory, and verify/events run there (`moat ledger verify --dir DIR --chain
     * NAME`).
     */
    ledger?: 'local' | 'central';
    /**
     * How many servers of a NATS cluster keep the chain's stream MOAT_<chain> (and its ledger consumers and signed
     * heads), so that it survives the death of all but one of them. Default: 3 when events.nats_url is a cluster with
     * at least three servers, else 1; a stream made with fewer is raised to this at `up` (MOAT_ERR_STREAM_REPLICAS when
     * the cluster cannot place them). More than 1 needs events.nats_url: the chain's own nats-server is one server.
     */
    replicas?: number;
    /**
     * Events a link holds while NATS is slow or away; past that it drops them and records a counted gap. Traffic never
     * waits for events.
     */
    queue_size?: number;
    /**
     * Where findings (denials, DLP blocks with the detector, would-deny in report mode, spent budgets, hop failures:
     * what `moat chain findings` lists) are streamed as they happen, for a SIEM. The chain's ledger writer sends each
     * finding once, after it stored its event, through a bounded queue per sink: the ledger never waits for a sink, a
     * sink that is down is retried and logged, never fatal. Findings carry what the ledger holds (secrets masked),
     * never a body. Needs events.ledger: local (for a central ledger, `moat ledger serve --sink` sends them).
     *
     * Items: One sink: either syslog (RFC 5424, one message per finding, structured data moat@32473 with its fields) or
     * jsonl (a JSON lines file, one finding per line, appended, created 0600).
     */
    sinks?: {
      /**
       * host:port of the syslog receiver, e.g. 127.0.0.1:514 or [::1]:514. An address outside this machine (any host
       * other than a loopback address or localhost) also needs remote: true.
       */
      syslog?: string;
      /**
       * udp (RFC 5426, one datagram per message, cut at 8 KiB) or tcp (RFC 6587 octet counting, reconnected when it
       * drops). Syslog sinks only; default udp.
       */
      protocol?: 'udp' | 'tcp';
      /**
       * Syslog facility: a name (kern, user, ..., local0 .. local7) or its number 0 to 23. Syslog sinks only; default
       * local0.
       */
      facility?:
        | number
        | (
            | 'kern'
            | 'user'
            | 'mail'
            | 'daemon'
            | 'auth'
            | 'syslog'
            | 'lpr'
            | 'news'
            | 'uucp'
            | 'cron'
            | 'authpriv'
            | 'ftp'
            | 'ntp'
            | 'audit'
            | 'alert'
            | 'clock'
            | 'local0'
            | 'local1'
            | 'local2'
            | 'local3'
            | 'local4'
            | 'local5'
            | 'local6'
            | 'local7'
          );
      /**
       * Syslog sinks only: allows an address outside this machine. Without it, only loopback addresses and localhost
       * are accepted, so an address changed to another machine is refused rather than sent findings.
       */
      remote?: boolean;
      /**
       * The file, relative to moat.yaml's directory unless absolute. A symbolic link is refused.
       */
      jsonl?: string;
    }[];
  };
  /**
   * What events carry of bodies.
   */
  capture?: {
    /**
     * metadata: size, SHA-256 and content type only; redacted: the body with secret-shaped strings masked (the DLP
     * detectors' findings, and values of fields named like api_key, secret, password, token); full: the body as it was,
     * except that DLP findings are masked in every mode. Credential header values (Authorization, Proxy-Authorization,
     * x-api-key, api-key, x-goog-api-key, Cookie, Set-Cookie, x-auth-token, private-token, x-amz-security-token, and
     * names holding token, secret, api-key, password, signature, credential, session or auth) are [REDACTED] in every
     * mode; DLP findings in other header values and in the path are masked.
     */
    bodies?: 'metadata' | 'redacted' | 'full';
    /**
     * At most this many bytes of a body are copied into an event; a longer body is cut and marked. The data path never
     * holds more.
     */
    max_body_bytes?: number;
  };
  /**
   * The chain's web dashboard, served on 127.0.0.1 by a process of its own: hops with pid, state, restarts, requests,
   * latency added and error rate; live requests; one request across every boundary with what each hop changed; denials;
   * the ledger's verification. `up` prints its address with a random token, which every request needs.
   */
  dashboard?: {
    /**
     * Run the dashboard with the chain.
     */
    enabled?: boolean;
    /**
     * Port the dashboard listens on, on 127.0.0.1 only; 0 picks a free port at `up`.
     */
    port?: number;
  };
  /**
   * Credentials egress adds to requests for the agent: a built-in grant (anthropic, openai, gemini) or a generic {host,
   * header, format, env}. The real key is read from the environment of `moat chain up` and handed to egress alone; the
   * agent and every third-party hop get a format-valid placeholder in the same variable, which egress replaces (or the
   * header is injected when absent).
   */
  grants?: (GrantName | GenericGrant)[];
  /**
   * Metrics of the moat-telemetry hop (which must be in proxies:): Prometheus /metrics on 127.0.0.1, and OTLP export
   * when otlp is set. Counts come from the chain's events: latency each hop added, time to first byte, tokens,
   * estimated cost (prices:), policy decisions.
   */
  telemetry?: {
    /**
     * Port of the Prometheus endpoint http://127.0.0.1:PORT/metrics, served by moat-telemetry's metrics process on
     * loopback only and without the chain token (it holds counts, never paths, traces or bodies). Default (absent or
     * 0): a free port chosen at `up`; `up` and `status` print the URL.
     */
    metrics_port?: number;
    /**
     * Also push the metrics to an OpenTelemetry collector, over OTLP/HTTP with JSON bodies.
     */
    otlp?: {
      /**
       * Base URL of the collector's OTLP/HTTP receiver, e.g. http://127.0.0.1:4318; metrics are POSTed to
       * <endpoint>/v1/metrics. Failures are logged and never affect traffic.
       */
      endpoint: string;
      /**
       * How often the metrics are sent, in ms (cumulative totals each time; once more when the chain stops).
       */
      interval_ms?: number;
      /**
       * Headers sent with every export, e.g. the collector's authorization; their values are shown as *** by `plan` and
       * never logged.
       */
      headers?: {
        [k: string]: string;
      };
    };
  };
}
/**
 * A proxy from contrib-proxies/ with settings of this chain's own.
 */
export interface ManifestHop {
  /**
   * The manifest's name, e.g. chopratejas/headroom.
   */
  use: string;
  /**
   * Name shown in plan, status, logs and errors; defaults to the manifest's name.
   */
  name?: string;
  scope?: Scope;
  /**
   * Environment added to (or replacing) the manifest's, with the same placeholders.
   */
  env?: {
    [k: string]: string;
  };
  /**
   * True for a hop that enforces policy (an egress policy proxy such as agentreserve, whose manifest says so): `moat
   * chain replay --skip-hop` and `bisect` never skip it, like moat-policy.
   */
  policy?: boolean;
  /**
   * How the link in front of a forward hop hands it HTTPS traffic: tunnel (default) sends CONNECT and TLS that the next
   * link terminates, so the hop sees only hosts unless it intercepts TLS itself; plain sends the request as plain
   * absolute-form HTTP over loopback, so a proxy that cannot intercept TLS sees the content, and the next link sends it
   * on as HTTPS again.
   */
  tls?: 'tunnel' | 'plain';
  /**
   * Files added to (or replacing, path by path) the manifest's files, with the same placeholders: e.g.
   * agentreserve.yaml with rules of this chain's own.
   */
  files?: {
    [k: string]: string;
  };
  /**
   * How the hop's process is isolated. netns (the default; Linux, `unshare` and `ip` needed): it runs in network
   * namespaces of its own. Its port on 127.0.0.1 is moat's entrance, which passes in only connections from the link in
   * front of it (any other local process gets 407); its outbound TCP to ports 443 and 80 goes into the next link (the
   * destination taken from TLS SNI or the Host header), every name resolves through moat, its upstream setting still
   * reaches the next link, and nothing else leaves; a hop that connects to destinations itself (dials_directly, e.g.
   * agentreserve) may then stand anywhere in proxies:. In a mount namespace of its own it sees none of moat's state and
   * none of your home directory but what its command needs, and can change no file outside its own directory
   * (docs/hops.md). Where namespaces are not available, `up` stops with MOAT_ERR_NAMESPACES. none: it shares this
   * machine's network and is told its next link through its upstream setting and HTTP(S)_PROXY; any local process can
   * then send into its port (plan and up warn).
   */
  isolation?: 'none' | 'netns';
}
/**
 * The traffic a base_url hop serves (host globs and path prefixes); other requests skip it and are recorded as skipped.
 * Replaces the manifest's scope.
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
 * Any third-party proxy binary, launched by moat with its port and upstream substituted.
 */
export interface CommandHop {
  /**
   * Name shown in plan, status, logs and errors.
   */
  name: string;
  /**
   * argv of the proxy. Placeholders: {port}, {upstream_host} and {upstream_port} (the next link, 127.0.0.1 and its
   * port), {dir} (the hop's own directory, also its HOME), {ca} (the Moat CA certificate), {ca_bundle} (the system
   * roots plus the Moat CA), {intercept_hosts} (tls.intercept as one anchored regular expression, for a proxy that
   * intercepts TLS itself). The placeholders holding the next link's credential, {upstream}
   * (http://moat:CREDENTIAL@127.0.0.1:PORT), {upstream_base} (http://127.0.0.1:PORT/_moat/CREDENTIAL) and
   * {upstream_auth} (moat:CREDENTIAL), are refused here (a command line is readable by every local user): use them in
   * env or files.
   *
   * @minItems 1
   */
  command: [string, ...string[]];
  /**
   * How the Moat link in front of the hop speaks to it: forward is an HTTP proxy that takes CONNECT and absolute-form
   * requests; base_url is a reverse proxy for one API, sent plain origin-form requests, and only those in its scope.
   */
  kind?: 'forward' | 'base_url';
  /**
   * Extra environment of the proxy, with the same placeholders as command.
   */
  env?: {
    [k: string]: string;
  };
  /**
   * Files written into the hop's directory before it starts (name to content), with the same placeholders; for proxies
   * configured by a file, such as tinyproxy.
   */
  files?: {
    [k: string]: string;
  };
  /**
   * A PEM file (placeholders allowed) holding the CA a TLS-intercepting proxy signs with, e.g.
   * "{dir}/conf/mitmproxy-ca-cert.pem"; the Moat link in front of the hop trusts it besides the Moat CA.
   */
  trust_ca?: string;
  scope?: Scope;
  /**
   * True when the proxy cannot be told to listen on 127.0.0.1 only; plan and up warn about it.
   */
  listens_on_all_interfaces?: boolean;
  /**
   * True for a hop that enforces policy (an egress policy proxy such as agentreserve, whose manifest says so): `moat
   * chain replay --skip-hop` and `bisect` never skip it, like moat-policy.
   */
  policy?: boolean;
  /**
   * True when the proxy connects to destinations itself and cannot be given an upstream: it is accepted only as the
   * last hop before egress.
   */
  dials_directly?: boolean;
  /**
   * How the link in front of a forward hop hands it HTTPS traffic: tunnel (default) sends CONNECT and TLS that the next
   * link terminates, so the hop sees only hosts unless it intercepts TLS itself; plain sends the request as plain
   * absolute-form HTTP over loopback, so a proxy that cannot intercept TLS sees the content, and the next link sends it
   * on as HTTPS again.
   */
  tls?: 'tunnel' | 'plain';
  /**
   * How the hop's process is isolated. netns (the default; Linux, `unshare` and `ip` needed): it runs in network
   * namespaces of its own. Its port on 127.0.0.1 is moat's entrance, which passes in only connections from the link in
   * front of it (any other local process gets 407); its outbound TCP to ports 443 and 80 goes into the next link (the
   * destination taken from TLS SNI or the Host header), every name resolves through moat, its upstream setting still
   * reaches the next link, and nothing else leaves; a hop that connects to destinations itself (dials_directly, e.g.
   * agentreserve) may then stand anywhere in proxies:. In a mount namespace of its own it sees none of moat's state and
   * none of your home directory but what its command needs, and can change no file outside its own directory
   * (docs/hops.md). Where namespaces are not available, `up` stops with MOAT_ERR_NAMESPACES. none: it shares this
   * machine's network and is told its next link through its upstream setting and HTTP(S)_PROXY; any local process can
   * then send into its port (plan and up warn).
   */
  isolation?: 'none' | 'netns';
}
/**
 * One moat-policy rule (the shape of @agentreserve/proxy's, plus id, mode, methods, tool and dlp).
 */
export interface PolicyRule {
  /**
   * Stable name of the rule, shown in denials and events; defaults to rules[N].
   */
  id?: string;
  /**
   * Glob over host/path (query excluded), e.g. "*.internal.example.com/*"; * matches any run of characters, / included.
   */
  match: string;
  /**
   * allow forwards (after its policies pass), deny answers 403, log forwards and logs the match.
   */
  action: 'allow' | 'deny' | 'log';
  /**
   * Human reason, returned in a denial.
   */
  reason?: string;
  /**
   * enforce or report for this rule alone, overriding policy.mode (try a new rule in report first).
   */
  mode?: 'enforce' | 'report';
  /**
   * The rule applies only to requests with one of these methods (upper case, e.g. [GET, POST]); absent: every method. A
   * blind tunnel shows no method, so such a rule that could deny denies it (fail closed), and one that allows is passed
   * over.
   *
   * @minItems 1
   */
  methods?: [string, ...string[]];
  /**
   * A condition in CEL over the request's facts (method, host, path, headers, model, input_tokens, tools, tool, args);
   * the rule applies only when it is true. Compiled when the file loads; an error while evaluating denies (fail
   * closed). See docs/policy.md#cel-conditions-when.
   */
  when?: string;
  /**
   * MCP: the rule applies only to JSON-RPC tools/call requests whose tool name fits this glob, e.g. "delete_*"; a
   * denial is a JSON-RPC error.
   */
  tool?: string;
  /**
   * false: request bodies matching this rule are not scanned for secrets (a host that must receive a key in its body).
   */
  dlp?: boolean;
  /**
   * Limits checked before an allow rule forwards; the first that fails denies.
   */
  policies?: PolicyLimit[];
}
/**
 * A limit attached to an allow rule: rate_limit, time_restriction or spending_limit (agentreserve's names and fields).
 */
export interface PolicyLimit {
  /**
   * Which limit this is.
   */
  type: 'rate_limit' | 'time_restriction' | 'spending_limit';
  /**
   * rate_limit: requests per host in any 60 s (sliding window); more answer 429 with Retry-After.
   */
  max_requests_per_minute?: number;
  /**
   * time_restriction: first allowed hour (0-23) in time_zone.
   */
  allowed_hours_start?: number;
  /**
   * time_restriction: requests are allowed before this hour (1-24); an end before the start wraps past midnight.
   */
  allowed_hours_end?: number;
  /**
   * time_restriction: days requests are allowed on.
   */
  allowed_days?: ('mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun')[];
  /**
   * time_restriction and spending_limit: IANA time zone of the hours and of the day a budget covers (default: the
   * machine's).
   */
  time_zone?: string;
  /**
   * spending_limit: input + output tokens per day, from the providers' usage.
   */
  max_tokens?: number;
  /**
   * spending_limit: estimated cost per day, priced with prices:.
   */
  max_amount?: number;
  /**
   * spending_limit: a label for max_amount; prices: are in the same currency.
   */
  currency?: string;
  /**
   * spending_limit: one budget per host (the default), or per host and model.
   */
  per?: 'host' | 'model';
}
/**
 * What a million tokens of one model cost.
 */
export interface ModelPrice {
  /**
   * Price of a million input (prompt) tokens.
   */
  input: number;
  /**
   * Price of a million output (completion) tokens.
   */
  output: number;
  /**
   * Price of a million input tokens written to the provider's prompt cache; default 1.25 times input for Anthropic (its
   * 5-minute cache writes), input for OpenAI (it charges no more for them). Used by moat chain cache.
   */
  cache_write?: number;
  /**
   * Price of a million input tokens read from the provider's prompt cache; default 0.1 times input for Anthropic, 0.5
   * times input for OpenAI. Used by moat chain cache.
   */
  cache_read?: number;
}
/**
 * A credential for any HTTPS API, added by egress to requests for one host.
 */
export interface GenericGrant {
  /**
   * Host the credential is for, e.g. api.example.com (a glob such as "*.example.com" is allowed); no other host ever
   * receives it.
   */
  host: string;
  /**
   * Header that carries the credential, e.g. authorization or x-api-key; egress replaces the placeholder in it, or adds
   * it when the request has none.
   */
  header: string;
  /**
   * The header's value, with {key} where the key goes, e.g. "Bearer {key}".
   */
  format?: string;
  /**
   * Environment variable: `moat chain up` reads the real key from it; the agent and third-party hops get the
   * placeholder in it.
   */
  env: string;
  /**
   * Start of the placeholder, so it passes a client's format check (e.g. "ghp_"); the rest is random letters and digits
   * up to the real key's length.
   */
  prefix?: string;
}
