// A small JSON Schema checker for the subset our schemas use (type, properties,
// additionalProperties, required, items, anyOf, enum, pattern, minLength, minItems, uniqueItems,
// minimum, maximum, exclusiveMinimum, $ref to #/definitions). It reports every problem with the key
// path, so the config loader can point at file:line:column. It also fills defaults. A schema that uses
// any other keyword is refused when the checker is made: a keyword it ignored would check nothing.
// `any`: JSON Schema nodes are walked as plain JSON.
/* eslint-disable @typescript-eslint/no-explicit-any */

export type JsonPath = (string | number)[];

export interface SchemaProblem {
  path: JsonPath;
  /** Whether the problem is about a key itself (unknown key) rather than its value. */
  atKey: boolean;
  message: string;
}

type Schema = Record<string, any>;

/** The keywords check() enforces. */
const CHECKED = [
  'type',
  'properties',
  'additionalProperties',
  'required',
  'items',
  'anyOf',
  'enum',
  'pattern',
  'minLength',
  'minItems',
  'uniqueItems',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  '$ref',
];
/** Keywords that say something to readers and editors, or hold definitions, and constrain nothing here. */
const ANNOTATIONS = ['$id', '$schema', 'title', 'description', 'default', 'examples', 'definitions'];

/** Where a schema uses a keyword this checker does not enforce ("x-" extensions are annotations), as JSON paths. */
export function unsupportedKeywords(schema: unknown, at = '#'): string[] {
  if (Array.isArray(schema)) return schema.flatMap((s, i) => unsupportedKeywords(s, `${at}/${i}`));
  if (typeof schema !== 'object' || schema === null) return [];
  const found: string[] = [];
  for (const [key, child] of Object.entries(schema)) {
    if (key.startsWith('x-') || key === 'default' || key === 'examples' || key === 'enum') continue;
    if (key === 'properties' || key === 'definitions') {
      for (const [name, sub] of Object.entries(child as Record<string, unknown>))
        found.push(...unsupportedKeywords(sub, `${at}/${key}/${name}`));
      continue;
    }
    if (!CHECKED.includes(key) && !ANNOTATIONS.includes(key)) found.push(`${at}/${key}`);
    else if (typeof child === 'object') found.push(...unsupportedKeywords(child, `${at}/${key}`));
  }
  return found;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function typeMatches(expected: string, value: unknown): boolean {
  const actual = typeOf(value);
  return expected === actual || (expected === 'number' && actual === 'integer');
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}

function describe(value: unknown): string {
  const t = typeOf(value);
  return t === 'object' || t === 'array' ? `an ${t}` : `${t} ${JSON.stringify(value)}`;
}

export class SchemaChecker {
  constructor(private readonly root: Schema) {
    const unsupported = unsupportedKeywords(root);
    if (unsupported.length)
      throw new Error(`schema: keywords this checker does not enforce: ${unsupported.join(', ')}`);
  }

  private resolve(schema: Schema): Schema {
    if (typeof schema.$ref === 'string') {
      const name = schema.$ref.replace('#/definitions/', '');
      const target = this.root.definitions?.[name];
      if (!target) throw new Error(`schema: unresolved $ref ${schema.$ref}`);
      return this.resolve(target);
    }
    return schema;
  }

  check(value: unknown, schema: Schema = this.root, path: JsonPath = []): SchemaProblem[] {
    schema = this.resolve(schema);
    if (schema.anyOf) return this.checkAnyOf(value, schema.anyOf, path);
    const problems: SchemaProblem[] = [];
    const fail = (message: string) => problems.push({ path, atKey: false, message });

    if (schema.type && !typeMatches(schema.type, value)) {
      fail(`expected ${article(schema.type)} ${schema.type}, got ${describe(value)}`);
      return problems;
    }
    if (schema.enum && !schema.enum.includes(value)) {
      fail(
        `must be one of ${schema.enum.map((e: unknown) => JSON.stringify(e)).join(', ')}, got ${JSON.stringify(value)}`,
      );
    }
    if (typeof value === 'string') {
      if (schema.minLength !== undefined && value.length < schema.minLength) fail('must not be empty');
      if (schema.pattern && !new RegExp(schema.pattern).test(value)) {
        fail(`${JSON.stringify(value)} does not match ${schema.pattern}`);
      }
    }
    if (typeof value === 'number') {
      if (schema.minimum !== undefined && value < schema.minimum) fail(`must be at least ${schema.minimum}`);
      if (schema.maximum !== undefined && value > schema.maximum) fail(`must be at most ${schema.maximum}`);
      if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum)
        fail(`must be more than ${schema.exclusiveMinimum}`);
    }
    if (Array.isArray(value)) {
      if (schema.minItems !== undefined && value.length < schema.minItems) {
        fail(`must have at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}`);
      }
      if (schema.uniqueItems === true) {
        const seen = value.map((item) => JSON.stringify(item));
        const twice = seen.findIndex((item, i) => seen.indexOf(item) !== i);
        if (twice >= 0) fail(`${seen[twice]} is given twice`);
      }
      if (schema.items) value.forEach((item, i) => problems.push(...this.check(item, schema.items, [...path, i])));
    }
    if (typeOf(value) === 'object') problems.push(...this.checkObject(value as Record<string, unknown>, schema, path));
    return problems;
  }

  private checkObject(value: Record<string, unknown>, schema: Schema, path: JsonPath): SchemaProblem[] {
    const problems: SchemaProblem[] = [];
    const properties: Record<string, Schema> = schema.properties ?? {};
    for (const key of schema.required ?? []) {
      if (!(key in value)) problems.push({ path, atKey: false, message: `missing required key "${key}"` });
    }
    for (const [key, child] of Object.entries(value)) {
      if (key in properties) {
        problems.push(...this.check(child, properties[key], [...path, key]));
      } else if (schema.additionalProperties === false) {
        const known = Object.keys(properties);
        problems.push({
          path: [...path, key],
          atKey: true,
          message: `unknown key "${key}"${known.length ? ` (known: ${known.join(', ')})` : ''}`,
        });
      } else if (typeof schema.additionalProperties === 'object') {
        problems.push(...this.check(child, schema.additionalProperties, [...path, key]));
      }
    }
    return problems;
  }

  /** Report against the one branch whose type fits; a union of shapes reads badly otherwise. */
  private checkAnyOf(value: unknown, branches: Schema[], path: JsonPath): SchemaProblem[] {
    const resolved = branches.map((b) => this.resolve(b));
    const results = resolved.map((b) => this.check(value, b, path));
    if (results.some((r) => r.length === 0)) return [];
    const fitting = resolved.map((b, i) => (!b.type || typeMatches(b.type, value) ? i : -1)).filter((i) => i >= 0);
    if (fitting.length === 1) return results[fitting[0]];
    // Several object shapes (e.g. {use} and {name, command}): report against the one whose required keys are there.
    const meant = fitting.filter((i) => hasRequiredKeys(resolved[i], value));
    if (meant.length === 1) return results[meant[0]];
    // Otherwise the shape that knows most of the keys given.
    const known = (i: number) =>
      Object.keys((value ?? {}) as object).filter((k) => k in (resolved[i].properties ?? {})).length;
    const best = [...fitting].sort((x, y) => known(y) - known(x));
    if (best.length > 1 && known(best[0]) > known(best[1])) return results[best[0]];
    const types = [...new Set(resolved.map((b) => b.type ?? 'value'))].join(' or ');
    return [{ path, atKey: false, message: `expected ${article(types)} ${types}, got ${describe(value)}` }];
  }

  /** A deep copy of value with every missing property that has a default filled in. */
  withDefaults<T>(value: T, schema: Schema = this.root): T {
    schema = this.resolve(schema);
    if (schema.anyOf) {
      const branches: Schema[] = schema.anyOf
        .map((b: Schema) => this.resolve(b))
        .filter((b: Schema) => !b.type || typeMatches(b.type, value));
      const branch = branches.find((b) => hasRequiredKeys(b, value)) ?? branches[0];
      return branch ? this.withDefaults(value, branch) : value;
    }
    if (Array.isArray(value))
      return value.map((item) => (schema.items ? this.withDefaults(item, schema.items) : item)) as T;
    if (typeOf(value) !== 'object') return value;
    const out: Record<string, unknown> = {};
    const input = value as Record<string, unknown>;
    for (const [key, child] of Object.entries(input)) {
      const childSchema =
        schema.properties?.[key] ??
        (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      out[key] = childSchema ? this.withDefaults(child, childSchema) : child;
    }
    for (const [key, child] of Object.entries<Schema>(schema.properties ?? {})) {
      const resolved = this.resolve(child);
      if (!(key in out) && resolved.default !== undefined) out[key] = structuredClone(resolved.default);
      // Sections such as egress: are filled in; an optional object with required keys (a hop's scope) is not.
      else if (!(key in out) && resolved.type === 'object' && resolved.properties && !resolved.required?.length)
        out[key] = this.withDefaults({}, resolved);
    }
    return out as T;
  }
}

function hasRequiredKeys(schema: Schema, value: unknown): boolean {
  if (typeOf(value) !== 'object') return true;
  return ((schema.required ?? []) as string[]).every((k) => k in (value as Record<string, unknown>));
}

export function formatPath(path: JsonPath): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${part}` : part;
  return out || '(top level)';
}
