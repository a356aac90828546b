// `moat chain init`: a commented starter moat.yaml. The first line points editors that speak the
// YAML language server at the schema, so they complete keys and flag mistakes as you type.
import { existsSync, linkSync, rmSync, writeFileSync } from 'node:fs';
import { MoatError } from '../errors';
import { CHAIN_CONFIG_SCHEMA_FILE } from '../paths';

export const CONFIG_SCHEMA_FILE = CHAIN_CONFIG_SCHEMA_FILE;

export function starterConfig(schemaFile = CONFIG_SCHEMA_FILE): string {
  return `# yaml-language-server: $schema=${schemaFile}
# moat chain: the proxies between your agent and the internet, in the order a request passes them.
# Reference: docs/configuration.md. Check it with \`moat chain plan\`; start it with \`moat chain up\`.

# Chains with different names run side by side.
name: default

proxies:
  - moat-telemetry              # a log line per request (moat chain logs 1) and Prometheus /metrics
  - moat-policy                 # the rules under policy: below
  # Third-party proxies by name (contrib-proxies/, docs/hops.md), e.g.:
  # - chopratejas/headroom      # context compressor for Anthropic and OpenAI calls
  # - mitmproxy                 # intercepts TLS with its own CA and logs every request

policy:
  rules:                        # first match wins; nothing matches: allow
    - match: "*.internal.example.com/*"
      action: deny
      reason: internal APIs are off limits

# Real API keys go to egress only; your agent and every hop get placeholders.
# Start with the key in your environment: ANTHROPIC_API_KEY=sk-ant-... moat chain up
# grants:
#   - anthropic

egress:
  allow: ["*"]                  # host globs egress may connect to, e.g. [api.anthropic.com, api.openai.com]

capture:
  bodies: metadata              # metadata | redacted | full: what the ledger keeps of bodies

# moat-telemetry's metrics: \`moat chain up\` and \`status\` print where /metrics is (a free port unless set).
# telemetry:
#   metrics_port: 9464
#   otlp:                       # also push them to an OpenTelemetry collector
#     endpoint: http://127.0.0.1:4318
`;
}

/** Writes the starter config; never replaces a file (hard link from a temp file fails if it exists). */
export function writeStarterConfig(file: string): void {
  if (existsSync(file))
    throw new MoatError(
      'MOAT_ERR_CONFIG_EXISTS',
      `${file} already exists; moat chain init never overwrites (remove it, or name another with -f FILE)`,
    );
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, starterConfig(), { mode: 0o644 });
  try {
    linkSync(temp, file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MoatError(
      code === 'EEXIST' ? 'MOAT_ERR_CONFIG_EXISTS' : 'MOAT_ERR_USAGE',
      code === 'EEXIST'
        ? `${file} already exists; moat chain init never overwrites`
        : `${file}: cannot write: ${(err as Error).message}`,
    );
  } finally {
    rmSync(temp, { force: true });
  }
}
