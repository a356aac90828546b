// Every path the code finds from its own place in the tree, computed here once: the compiled entry points pm2
// starts, the agent's Node preload, the schemas, contrib-proxies/ and the dashboard's page. This file is
// dist/supervisor/paths.js at run time.
import { join, resolve } from 'node:path';

/** dist/, where the compiled tree is. */
export const DIST_DIR = resolve(__dirname, '..');
/** The project's root (package.json, schemas/, contrib-proxies/). */
export const REPO_ROOT = resolve(DIST_DIR, '..');

export const SCHEMAS_DIR = join(REPO_ROOT, 'schemas');
export const CHAIN_CONFIG_SCHEMA_FILE = join(SCHEMAS_DIR, 'chain-config.schema.json');
export const HOP_MANIFEST_SCHEMA_FILE = join(SCHEMAS_DIR, 'hop-manifest.schema.json');
export const CONTRIB_DIR = join(REPO_ROOT, 'contrib-proxies');
export const DASHBOARD_PAGE_FILE = join(REPO_ROOT, 'supervisor', 'dashboard', 'page.html');

/** The processes pm2 starts, and the namespace helper `run --transparent` and isolated hops use. */
export const ENTRY_POINTS = {
  hop: join(DIST_DIR, 'supervisor', 'chain', 'hop-process.js'),
  ledgerWriter: join(DIST_DIR, 'supervisor', 'ledger', 'writer.js'),
  dashboard: join(DIST_DIR, 'supervisor', 'dashboard', 'main.js'),
  metrics: join(DIST_DIR, 'hops', 'telemetry', 'metrics-main.js'),
  isolatedHop: join(DIST_DIR, 'supervisor', 'transparent', 'hop-main.js'),
  netnsHelper: join(DIST_DIR, 'supervisor', 'transparent', 'netns-main.js'),
} as const;

/** Not a Moat process: the preload `moat chain env` and `run` put into the agent's NODE_OPTIONS (supervisor/agent/). */
export const NODE_PRELOAD_FILE = join(DIST_DIR, 'supervisor', 'agent', 'node-preload.js');
