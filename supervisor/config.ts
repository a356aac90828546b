// Reads moat.yaml, checks it against schemas/chain-config.schema.json and fills defaults.
// Every problem is reported as file:line:column: key.path: message.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node as YamlNode } from 'yaml';
import type { ChainConfig } from '../schemas/generated/chain-config';
import { SchemaChecker, formatPath, type JsonPath } from './schema-check';
import { MoatError } from './errors';
import { BUILTIN_HOPS, isBuiltinHop } from '../hops/builtin-names';
import { checkGrants } from './grants';

export const CONFIG_SCHEMA = JSON.parse(
  readFileSync(join(__dirname, '..', '..', 'schemas', 'chain-config.schema.json'), 'utf8'),
);

/** ChainConfig with every default filled in. */
export type ResolvedConfig = ChainConfig & {
  name: string;
  ingress: { port: number };
  policy: { rules: NonNullable<NonNullable<ChainConfig['policy']>['rules']> };
  egress: Required<NonNullable<ChainConfig['egress']>>;
  events: NonNullable<ChainConfig['events']> & { queue_size: number };
  capture: Required<NonNullable<ChainConfig['capture']>>;
};

export interface LoadedConfig {
  file: string;
  config: ResolvedConfig;
  /** "file:line:col" of a key path, for messages found after loading (plan, up). */
  where(path: JsonPath): string;
}

export const DEFAULT_CONFIG_FILE = 'moat.yaml';

export function loadConfigFile(file: string = DEFAULT_CONFIG_FILE): LoadedConfig {
  if (!existsSync(file)) {
    throw new MoatError(
      'MOAT_ERR_CONFIG_NOT_FOUND',
      `${file}: no such file (write one, or name another with -f FILE; see docs/configuration.md)`,
    );
  }
  return parseConfig(readFileSync(file, 'utf8'), file);
}

export function parseConfig(text: string, file: string): LoadedConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const messages = doc.errors.map((e) => `${at(e.pos[0])}: ${e.message.split('\n')[0]}`);
    throw new MoatError('MOAT_ERR_CONFIG_SYNTAX', messages.join('\n'));
  }
  const data = doc.toJS() ?? {};
  const where = (path: JsonPath, atKey = false) => at(offsetOf(doc.contents as YamlNode | null, path, atKey));

  const checker = new SchemaChecker(CONFIG_SCHEMA);
  const problems = checker.check(data);
  if (problems.length > 0) {
    const messages = problems.map((p) => `${where(p.path, p.atKey)}: ${formatPath(p.path)}: ${p.message}`);
    throw new MoatError('MOAT_ERR_CONFIG_INVALID', messages.join('\n'));
  }
  const config = checker.withDefaults(data) as ResolvedConfig;
  checkHopNames(config, where);
  checkGrants(config, where);
  return { file, config, where };
}

function checkHopNames(config: ResolvedConfig, where: (path: JsonPath) => string): void {
  const messages: string[] = [];
  const seen = new Map<string, number>();
  config.proxies.forEach((entry, i) => {
    const name = typeof entry === 'string' ? entry : entry.name;
    if (typeof entry === 'string' && !isBuiltinHop(entry)) {
      const hint = closest(entry, BUILTIN_HOPS);
      messages.push(
        `${where(['proxies', i])}: proxies[${i}]: unknown hop "${entry}"${hint ? ` (did you mean "${hint}"?)` : ''} ` +
          `(known: ${BUILTIN_HOPS.join(', ')}; a third-party proxy needs the long form {name, command})`,
      );
    }
    if (seen.has(name)) {
      messages.push(`${where(['proxies', i])}: proxies[${i}]: "${name}" is already hop ${seen.get(name)! + 1}; hop names must be unique`);
    }
    seen.set(name, i);
  });
  if (messages.length > 0) throw new MoatError('MOAT_ERR_UNKNOWN_HOP', messages.join('\n'));
}

/** Offset in the text of the node at path (or of its key), falling back to the nearest parent. */
function offsetOf(root: YamlNode | null, path: JsonPath, atKey: boolean): number {
  let node: YamlNode | null = root;
  let offset = root?.range?.[0] ?? 0;
  for (let i = 0; i < path.length && node; i++) {
    const part = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(part));
      if (!pair) break;
      const key = pair.key as YamlNode;
      if (last && atKey) return key.range?.[0] ?? offset;
      node = (pair.value as YamlNode | null) ?? null;
      offset = node?.range?.[0] ?? key.range?.[0] ?? offset;
    } else if (isSeq(node) && typeof part === 'number') {
      node = (node.items[part] as YamlNode | undefined) ?? null;
      offset = node?.range?.[0] ?? offset;
    } else break;
  }
  return offset;
}

export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row[j];
      row[j] = next;
    }
  }
  return row[b.length];
}
