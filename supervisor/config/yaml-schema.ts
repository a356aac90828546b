// YAML checked against a JSON schema with defaults filled in; every problem is reported as
// file:line:column: key.path: message. Shared by moat.yaml and the manifests in contrib-proxies/.
import { LineCounter, parseDocument, isMap, isSeq, isScalar, visit, type Document, type Node as YamlNode } from 'yaml';
import { SchemaChecker, formatPath, type JsonPath } from './schema-check';
import { MoatError, type ErrorCode } from '../errors';

export function parseAgainstSchema<T>(
  text: string,
  file: string,
  schema: object,
  codes: { syntax: ErrorCode; invalid: ErrorCode },
): { data: T; where: (path: JsonPath) => string } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const messages = doc.errors.map((e) => `${at(e.pos[0])}: ${e.message.split('\n')[0]}`);
    throw new MoatError(codes.syntax, messages.join('\n'));
  }
  const data = toJs(doc, at, codes.syntax);
  const where = (path: JsonPath, atKey = false) => at(offsetOf(doc.contents as YamlNode | null, path, atKey));
  const checker = new SchemaChecker(schema);
  const problems = checker.check(data);
  if (problems.length > 0) {
    const messages = problems.map((p) => `${where(p.path, p.atKey)}: ${formatPath(p.path)}: ${p.message}`);
    throw new MoatError(codes.invalid, messages.join('\n'));
  }
  return { data: checker.withDefaults(data) as T, where: (path) => where(path) };
}

/**
 * The document as plain data. The parser reports no error for an alias whose anchor does not exist
 * (`*nowhere`) or for aliases that would expand past the resource limit; the conversion throws on them,
 * which reached users as "moat: internal error" (found by the resilience suite's mutated configs).
 */
function toJs(doc: Document, at: (offset: number) => string, code: ErrorCode): unknown {
  try {
    return doc.toJS() ?? {};
  } catch (err) {
    let offset = 0;
    let unresolved: string | undefined;
    visit(doc, {
      Alias(_key, node) {
        if (unresolved !== undefined) return visit.BREAK;
        offset ||= node.range?.[0] ?? 0;
        if (!node.resolve(doc)) {
          unresolved = node.source;
          offset = node.range?.[0] ?? offset;
          return visit.BREAK;
        }
      },
    });
    const why =
      unresolved !== undefined
        ? `alias *${unresolved} names no anchor (&${unresolved}) defined before it`
        : (err as Error).message;
    throw new MoatError(code, `${at(offset)}: ${why}`);
  }
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
