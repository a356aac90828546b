// docs/configuration-reference.md, made from schemas/chain-config.schema.json so the reference
// cannot drift from what the loader accepts. Pure: schema in, Markdown out. `npm run gen` writes it;
// test/unit/supervisor/config/reference.test.ts fails when it is stale.
// `any`: JSON Schema nodes are walked as plain JSON.
/* eslint-disable @typescript-eslint/no-explicit-any */

type Schema = Record<string, any>;

interface Row {
  key: string;
  type: string;
  default: string;
  description: string;
}

export function configReference(root: Schema): string {
  const rows: Row[] = [];
  const seen = new Set<string>();
  walkObject(root, root, '', rows, seen);
  const lines = [
    '# moat.yaml reference',
    '',
    "<!-- Generated from schemas/chain-config.schema.json by `npm run gen`. Do not edit: change the schema's " +
      'descriptions. -->',
    '',
    'Every key moat.yaml accepts, with its type and default. `[]` marks the items of a list, `.<name>` the values of a',
    'map; a list whose items take several shapes names the shape in parentheses. Prose, examples and how the forms',
    'are used are in [configuration.md](configuration.md), moat-policy in [policy.md](policy.md).',
    '',
    '| key | type | default | meaning |',
    '| --- | --- | --- | --- |',
    ...rows.map((r) => `| \`${r.key}\` | ${escape(r.type)} | ${r.default} | ${escape(r.description)} |`),
    '',
  ];
  return lines.join('\n');
}

function resolve(root: Schema, s: Schema): Schema {
  return s.$ref ? root.definitions[s.$ref.replace('#/definitions/', '')] : s;
}

function walkObject(root: Schema, schema: Schema, prefix: string, rows: Row[], seen: Set<string>): void {
  for (const [name, raw] of Object.entries<Schema>(schema.properties ?? {})) {
    const key = prefix ? `${prefix}.${name}` : name;
    const required = (schema.required ?? []).includes(name);
    walk(root, raw, key, required, rows, seen);
  }
}

function walk(root: Schema, raw: Schema, key: string, required: boolean, rows: Row[], seen: Set<string>): void {
  const s = resolve(root, raw);
  rows.push({
    key,
    type: typeOf(root, s) + (required ? ', required' : ''),
    default: defaultOf(s),
    description: raw.description ?? s.description ?? '',
  });
  if (seen.has(key)) return;
  seen.add(key);
  if (s.type === 'object' && s.properties) walkObject(root, s, key, rows, seen);
  if (s.type === 'object' && typeof s.additionalProperties === 'object') {
    const value = resolve(root, s.additionalProperties);
    if (value.type === 'object' && value.properties) walkObject(root, value, `${key}.<name>`, rows, seen);
  }
  if (s.type === 'array' && s.items) {
    const item = resolve(root, s.items);
    const shapes: Schema[] = (item.anyOf ?? [item])
      .map((b: Schema) => resolve(root, b))
      .filter((b: Schema) => b.type === 'object' && b.properties);
    // Several object shapes (a manifest with overrides, the long form): each keeps its own rows, labelled.
    for (const shape of shapes)
      walkObject(
        root,
        shape,
        shapes.length > 1 || shape['x-label'] ? `${key}[] (${shape['x-label'] ?? 'object'})` : `${key}[]`,
        rows,
        seen,
      );
  }
}

function typeOf(root: Schema, s: Schema): string {
  if (s.enum) return s.enum.map((e: unknown) => `\`${JSON.stringify(e).replace(/^"|"$/g, '')}\``).join(' | ');
  if (s.anyOf) return s.anyOf.map((b: Schema) => typeOf(root, resolve(root, b))).join(' or ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(root, resolve(root, s.items)) : 'values'}`;
  if (s.type === 'object' && typeof s.additionalProperties === 'object')
    return `map of ${typeOf(root, resolve(root, s.additionalProperties))}`;
  const bounds = [
    s.minimum !== undefined ? `>= ${s.minimum}` : '',
    s.exclusiveMinimum !== undefined ? `> ${s.exclusiveMinimum}` : '',
    s.maximum !== undefined ? `<= ${s.maximum}` : '',
    s.pattern ? `\`${s.pattern}\`` : '',
  ].filter(Boolean);
  const object = s.required?.length ? `{${s.required.join(', ')}, …}` : 'object';
  const base = s.type === 'object' ? object : String(s.type ?? 'value');
  return bounds.length ? `${base} ${bounds.join(' ')}` : base;
}

function defaultOf(s: Schema): string {
  if (s.default === undefined) return '';
  return `\`${JSON.stringify(s.default)}\``;
}

function escape(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
