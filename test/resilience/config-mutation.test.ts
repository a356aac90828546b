// Malformed moat.yaml and manifests from a seeded mutator (MOAT_RESILIENCE_SEED to replay another):
// valid files (test/golden, contrib-proxies, one that uses every section) mutated PER_FILE times
// each and loaded in-process (parseConfig, then the grant keys and the plan for what loads; a
// manifest through loadManifest), a sample through `moat chain plan`. Every mutant either loads or
// is refused with a MoatError that starts with file:line:col; never a stack trace or internal error.
import { expect } from 'chai';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseConfig } from '../../supervisor/config/load';
import { CONTRIB_DIR, loadManifest } from '../../supervisor/config/manifests';
import { buildPlan, displayPlan } from '../../supervisor/chain/plan';
import { readGrantKeys } from '../../supervisor/config/grants';
import { stateLayout } from '../../supervisor/chain/state';
import { MoatError } from '../../supervisor/errors';
import { CliChain } from '../helpers/cli-chain';
import { tmpDir } from '../helpers/tmp';
import { SeededRandom } from './helpers/seeded-random';
import { mutate, type Mutation } from './helpers/yaml-mutator';
import { REPO_ROOT } from '../helpers/repo-root';

const SEED = Number(process.env.MOAT_RESILIENCE_SEED ?? 0x5eed);
const PER_FILE = 300;
const CLI_SAMPLE = 24;
const ROOT = REPO_ROOT;
const CONFIGS = [
  ...readdirSync(join(ROOT, 'test', 'golden'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(ROOT, 'test', 'golden', f)),
  join(ROOT, 'test', 'resilience', 'fixtures', 'every-section.yaml'),
  join(ROOT, 'moat.yaml'),
];
// Every variable a grant may read, set: so a mutant that loads goes on to the plan.
const FAKE_KEYS: NodeJS.ProcessEnv = new Proxy(
  {},
  { get: (_t, name) => (typeof name === 'string' ? `fake-key-for-${name.toLowerCase()}` : undefined) },
);

function manifestFiles(dir = CONTRIB_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? manifestFiles(join(dir, e.name)) : e.name === 'manifest.yaml' ? [join(dir, e.name)] : [],
  );
}

interface Finding {
  file: string;
  mutant: number;
  kind: string;
  problem: string;
}

/** undefined when `load` succeeded or failed the way a user should see; else what went wrong. */
function judge(load: () => void, shownFile: string): string | undefined {
  try {
    load();
    return undefined;
  } catch (err) {
    if (!(err instanceof MoatError))
      return `not a MoatError: ${(err as Error)?.stack?.split('\n').slice(0, 3).join(' | ') ?? String(err)}`;
    // One problem a line, each pointing at its place.
    const at = `${shownFile}:`;
    const bad = err.message
      .split('\n')
      .find((line) => !line.startsWith(at) || !/^\d+:\d+: /.test(line.slice(at.length)));
    return bad === undefined ? undefined : `${err.code} without file:line:col: ${bad.slice(0, 160)}`;
  }
}

/** The loader end to end, as `plan` runs it: config, grant keys, plan. */
function loadAndPlan(text: string): void {
  const { config, where } = parseConfig(text, 'moat.yaml');
  const grantKeys = readGrantKeys(config, where, FAKE_KEYS);
  let port = 20000;
  const plan = buildPlan({
    config,
    configFile: 'moat.yaml',
    layout: stateLayout(config.name, '/moat-home'),
    token: 'TOKEN',
    linkSecret: 'S',
    allocatePort: () => ++port,
    grantKeys,
  });
  JSON.stringify(displayPlan(plan, 'TOKEN'));
}

function mutants(file: string, salt: number): Mutation[] {
  const rng = new SeededRandom(SEED ^ salt);
  const text = readFileSync(file, 'utf8');
  return Array.from({ length: PER_FILE }, () => mutate(text, rng));
}

function report(findings: Finding[]): string[] {
  // One line per distinct problem (numbers and quoted values folded), with its first example.
  const seen = new Map<string, Finding & { count: number }>();
  for (const f of findings) {
    const key = f.problem
      .replace(/\d+/g, 'N')
      .replace(/"[^"]*"/g, '"…"')
      .slice(0, 120);
    const entry = seen.get(key);
    if (entry) entry.count++;
    else seen.set(key, { ...f, count: 1 });
  }
  return [...seen.values()].map((f) => `${f.count}x ${f.problem} (first: ${f.file} mutant ${f.mutant}: ${f.kind})`);
}

describe(`resilience: malformed moat.yaml and manifests (seed ${SEED}, ${PER_FILE} mutants a file)`, function () {
  this.timeout(300_000);
  const figures: string[] = [];
  after(() => console.log(figures.map((f) => `      ${f}`).join('\n')));

  it('moat.yaml: every mutant loads and plans, or is refused with file:line:col', () => {
    const findings: Finding[] = [];
    let loaded = 0;
    CONFIGS.forEach((file, salt) => {
      mutants(file, salt).forEach((m, i) => {
        const problem = judge(() => loadAndPlan(m.text), 'moat.yaml');
        if (problem) findings.push({ file: relative(ROOT, file), mutant: i, kind: m.kind, problem });
        else if (!judge(() => parseConfig(m.text, 'moat.yaml'), '\0')) loaded++;
      });
    });
    figures.push(
      `moat.yaml: ${CONFIGS.length * PER_FILE} mutants of ${CONFIGS.length} files, ${loaded} still valid, ` +
        `${findings.length} mishandled`,
    );
    expect(report(findings)).to.deep.equal([]);
  });

  it('manifests: every mutant loads, or is refused with file:line:col', () => {
    const dir = tmpDir('moat-mut-');
    const findings: Finding[] = [];
    const files = manifestFiles();
    try {
      files.forEach((file, salt) => {
        // Outside contrib-proxies/, so the loader names the file as given and skips the directory-name check.
        const name = relative(CONTRIB_DIR, join(file, '..'));
        const target = join(dir.path, name, 'manifest.yaml');
        mkdirSync(join(target, '..'), { recursive: true });
        mutants(file, 1000 + salt).forEach((m, i) => {
          writeFileSync(target, m.text);
          const problem = judge(() => loadManifest(target), target);
          if (problem) findings.push({ file: relative(ROOT, file), mutant: i, kind: m.kind, problem });
        });
      });
    } finally {
      dir.remove();
    }
    figures.push(
      `manifests: ${files.length * PER_FILE} mutants of ${files.length} files, ${findings.length} mishandled`,
    );
    expect(report(findings)).to.deep.equal([]);
  });

  it(
    `\`moat chain plan\` on ${CLI_SAMPLE} mutants: success, or "moat: FILE:line:col: ..." and its code; never ` +
      `an internal error`,
    async () => {
      const chain = new CliChain('mutants');
      const env = {
        ANTHROPIC_API_KEY: 'fake-anthropic',
        OPENAI_API_KEY: 'fake-openai',
        GEMINI_API_KEY: 'fake-gemini',
        GITHUB_TOKEN: 'fake-github',
        EXAMPLE_API_KEY: 'fake-example',
      };
      const wrong: string[] = [];
      let refused = 0;
      try {
        const sample = CONFIGS.flatMap((file, salt) => mutants(file, salt).map((m, i) => ({ file, i, m })))
          .filter((_, n) => n % Math.floor((CONFIGS.length * PER_FILE) / CLI_SAMPLE) === 0)
          .slice(0, CLI_SAMPLE);
        for (const { file, i, m } of sample) {
          chain.writeConfig(m.text);
          const res = await chain.cli(['plan'], env);
          const positioned =
            res.stderr.startsWith(`moat: ${chain.configFile}:`) &&
            /^\d+:\d+: /.test(res.stderr.slice(`moat: ${chain.configFile}:`.length));
          const clean = !/internal error|\n\s+at /.test(res.stderr);
          if (res.code !== 0) refused++;
          if (!clean || (res.code !== 0 && !positioned))
            wrong.push(
              `${relative(ROOT, file)} mutant ${i} (${m.kind}): exit ${res.code}: ${res.stderr.slice(0, 200)}`,
            );
        }
      } finally {
        await chain.cleanup();
      }
      figures.push(`moat chain plan: ${CLI_SAMPLE} mutants, ${refused} refused, ${wrong.length} mishandled`);
      expect(wrong).to.deep.equal([]);
    },
  );
});
