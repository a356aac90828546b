// Findings as a SARIF 2.1.0 log (`moat chain findings --sarif FILE`), for code-scanning and security dashboards: one
// run, a rule per finding code with its help text, a result per finding with its level, a logical location (the hop)
// and the request as a URI without its query, and the trace as a partial fingerprint, so the same finding read twice
// is the same alert. Pure; test/unit/supervisor/findings/sarif.test.ts validates it against the SARIF schema.
import { findingHelp, type Finding } from './finding';

export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';
export const TOOL_NAME = 'moat-chain';
/** The partial fingerprint's name: the trace, the hop and the code (versioned, as SARIF recommends). */
export const FINGERPRINT = 'moatTrace/v1';

export interface SarifLog {
  $schema: string;
  version: '2.1.0';
  runs: Record<string, unknown>[];
}

/** The fingerprint of a finding: stable across runs (the ledger's own fields), distinct per trace, hop and code. */
export function fingerprint(f: Finding): string {
  return `${f.chain}/${f.trace}/${f.hop}/${f.code}`;
}

export function findingMessage(f: Finding): string {
  const what = f.code === 'would_deny' ? 'would deny (report mode)' : f.code;
  const rule = f.rule ? ` by rule ${f.rule}` : '';
  const detectors = f.detectors ? ` (detectors: ${f.detectors.join(', ')})` : '';
  const target = f.url ? ` ${f.method ?? ''} ${f.url}`.replace(/ {2}/, ' ') : '';
  const reason = f.reason ? `: ${f.reason}` : '';
  return `${what}${rule} at hop ${f.hop} (${f.hop_name})${target}${detectors}${reason}`;
}

export function toSarif(findings: readonly Finding[], o: { version: string; chain: string }): SarifLog {
  const codes = [...new Set(findings.map((f) => f.code))].sort();
  const index = new Map(codes.map((c, i) => [c, i]));
  const rules = codes.map((code) => {
    const level = findings.find((f) => f.code === code)!.level;
    return {
      id: code,
      name: code.replace(/(^|_)([a-z])/g, (_m, _s, c: string) => c.toUpperCase()),
      shortDescription: { text: findingHelp(code) },
      fullDescription: { text: findingHelp(code) },
      help: { text: `${findingHelp(code)}. docs/errors.md and docs/policy.md say what to do about it.` },
      defaultConfiguration: { level },
    };
  });
  const results = findings.map((f) => {
    const location: Record<string, unknown> = {
      logicalLocations: [
        { name: f.hop_name, fullyQualifiedName: `${f.chain}/hop ${f.hop}/${f.hop_name}`, kind: 'module' },
      ],
    };
    if (f.url) location.physicalLocation = { artifactLocation: { uri: f.url } };
    const properties: Record<string, unknown> = { trace: f.trace, event: f.event, time: f.time, hop: f.hop };
    if (f.rule) properties.policyRule = f.rule;
    if (f.detectors) properties.detectors = f.detectors;
    if (f.method) properties.method = f.method;
    if (f.status !== undefined) properties.status = f.status;
    return {
      ruleId: f.code,
      ruleIndex: index.get(f.code)!,
      level: f.level,
      message: { text: findingMessage(f) },
      locations: [location],
      partialFingerprints: { [FINGERPRINT]: fingerprint(f) },
      properties,
    };
  });
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: TOOL_NAME,
            version: o.version,
            rules,
          },
        },
        automationDetails: { id: `moat-chain/${o.chain}/` },
        columnKind: 'unicodeCodePoints',
        results,
      },
    ],
  };
}
