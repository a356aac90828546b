// The manifests in contrib-proxies/: <name>/manifest.yaml, checked against
// schemas/hop-manifest.schema.json with file:line:column errors like moat.yaml.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { HopManifest } from '../../schemas/generated/hop-manifest';
import { MoatError } from '../errors';
import { parseAgainstSchema } from './yaml-schema';
import { CONTRIB_DIR, HOP_MANIFEST_SCHEMA_FILE } from '../paths';

export { CONTRIB_DIR };
const MANIFEST_SCHEMA = JSON.parse(readFileSync(HOP_MANIFEST_SCHEMA_FILE, 'utf8'));
const MANIFEST_FILE = 'manifest.yaml';

/** A shipped manifest as contrib-proxies/<name>/manifest.yaml, wherever moat is installed or run from. */
export function shownPath(file: string): string {
  return file.startsWith(CONTRIB_DIR) ? relative(join(CONTRIB_DIR, '..'), file) : file;
}

export function loadManifest(file: string): HopManifest {
  const shown = shownPath(file);
  const { data, where } = parseAgainstSchema<HopManifest>(readFileSync(file, 'utf8'), shown, MANIFEST_SCHEMA, {
    syntax: 'MOAT_ERR_MANIFEST_INVALID',
    invalid: 'MOAT_ERR_MANIFEST_INVALID',
  });
  const expected = relative(CONTRIB_DIR, join(file, '..')).split('\\').join('/');
  if (file.startsWith(CONTRIB_DIR) && data.name !== expected) {
    throw new MoatError(
      'MOAT_ERR_MANIFEST_INVALID',
      `${where(['name'])}: name: "${data.name}" must match its directory "${expected}"`,
    );
  }
  if (data.kind === 'base_url' && !data.scope) {
    throw new MoatError(
      'MOAT_ERR_MANIFEST_INVALID',
      `${where(['kind'])}: kind: a base_url hop needs a scope (the hosts and paths it serves)`,
    );
  }
  return data;
}

/** The manifest for a short name such as "tinyproxy" or "chopratejas/headroom". */
export function findManifest(name: string): { file: string; manifest: HopManifest } | undefined {
  if (!/^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)?$/.test(name)) return undefined;
  const file = join(CONTRIB_DIR, ...name.split('/'), MANIFEST_FILE);
  return existsSync(file) ? { file: shownPath(file), manifest: loadManifest(file) } : undefined;
}

/** Every shipped manifest's name, for "did you mean" and `moat chain hops`. */
export function manifestNames(): string[] {
  const names: string[] = [];
  const walk = (dir: string, depth: number) => {
    for (const entry of readdirSync(dir).sort()) {
      const path = join(dir, entry);
      if (!statSync(path).isDirectory()) continue;
      if (existsSync(join(path, MANIFEST_FILE))) names.push(relative(CONTRIB_DIR, path).split('\\').join('/'));
      else if (depth === 0) walk(path, 1);
    }
  };
  if (existsSync(CONTRIB_DIR)) walk(CONTRIB_DIR, 0);
  return names;
}
