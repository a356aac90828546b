// The source tree's relative imports, read as text (pure over file contents): who imports whom, and the cycles.
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

export interface Import {
  from: string;
  /** What the specifier names: a repository path for a relative import, the bare name otherwise. */
  to: string;
  typeOnly: boolean;
  /** The import statement as written. */
  text: string;
}

const IMPORT = /^\s*(import|export)\s+(type\s+)?[^'";]*?\bfrom\s+'([^']+)'|require\('([^']+)'\)|import\('([^']+)'\)/gm;

/** Every .ts file under the given folders of root, as paths relative to root. */
export function sourceFiles(root: string, folders: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.push(p);
    }
  };
  for (const f of folders) walk(f);
  return out.sort();
}

export function importsOf(root: string, file: string): Import[] {
  const text = readFileSync(join(root, file), 'utf8');
  const found: Import[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[3] ?? m[4] ?? m[5];
    const typeOnly =
      m[2] !== undefined ||
      (m[5] !== undefined && /typeof\s+import\(/.test(text.slice(Math.max(0, m.index! - 8), m.index! + 8)));
    found.push({
      from: file,
      to: spec.startsWith('.') ? resolveLocal(root, file, spec) : spec,
      typeOnly,
      text: m[0].trim(),
    });
  }
  return found;
}

function resolveLocal(root: string, file: string, spec: string): string {
  const base = normalize(join(dirname(file), spec));
  for (const c of [`${base}.ts`, join(base, 'index.ts'), base]) {
    if (existsSync(join(root, c)) && statSync(join(root, c)).isFile()) return relative('.', c);
  }
  return base;
}

/** Cycles among the files, type-only imports included (a file's types belong where neither side needs the other). */
export function cycles(root: string, files: readonly string[]): string[][] {
  const edges = new Map(
    files.map((f) => [
      f,
      importsOf(root, f)
        .map((i) => i.to)
        .filter((t) => files.includes(t)),
    ]),
  );
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const t of edges.get(f) ?? []) {
      if (state.get(t) === 'open') found.push([...stack.slice(stack.indexOf(t)), t]);
      else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return found;
}
