// Follows docs/getting-started.md from a fresh clone: every shell command in the page, in order, each
// run as written or through the one substitution this machine needs (listed below). A command the
// page gains that this script does not know fails the test, so the page and the script stay together.
//
// Substitutions, because tests never reach the network:
// - `git clone <this repository>`: a clone of this checkout;
// - `sudo apt-get install -y nats-server`: checked to be installed already (.ci/run installs it);
// - `npm ci`: this checkout's node_modules linked into the clone (npm ci would ask the registry);
// - `npm link` (optional in the page): skipped, it changes the machine's global npm;
// - api.anthropic.com: the clone's moat.yaml gets an egress section mapping it to a local fake provider.
import { expect } from 'chai';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { FakeProvider } from '../fixtures/fake-provider';
import { egressTo, isAlive, processesMentioning } from '../helpers/cli-chain';
import { tmpDir } from '../helpers/tmp';
import { REPO_ROOT } from '../helpers/repo-root';

const ROOT = REPO_ROOT;

/** The shell commands of the page's ```sh blocks, comments and blank lines dropped, continuation lines joined. */
export function pageCommands(markdown: string): string[] {
  const blocks = [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  return blocks.flatMap((b) =>
    b
      .split('\n')
      .map((l) => l.replace(/\s+#.*$/, '').trim())
      .filter((l) => l && !l.startsWith('#')),
  );
}

describe('docs/getting-started.md, followed from a fresh clone', function () {
  this.timeout(240_000);
  const dir = tmpDir('moat-start-');
  const clone = join(dir.path, 'moat-chain');
  const home = join(dir.path, 'home');
  const pathDir = join(dir.path, 'path');
  let provider: FakeProvider;
  let foreground: ChildProcess | undefined;
  let upOutput = '';
  const env = () => ({ ...process.env, MOAT_HOME: home, PATH: `${pathDir}:${process.env.PATH}` });
  // Asynchronous: the fake provider answers from this very process.
  const sh = (command: string) =>
    new Promise<string>((resolve, reject) =>
      execFile(
        'bash',
        ['-c', command],
        { cwd: clone, env: env(), encoding: 'utf8', timeout: 60_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`${command}: ${err.message}\n${stderr}`)) : resolve(stdout)),
      ),
    );

  // What each command of the page does here: [pattern, action]. Order follows the page.
  const steps: [RegExp, (command: string) => Promise<void> | void][] = [
    [
      /^git clone <this repository> moat-chain && cd moat-chain$/,
      () => {
        execFileSync('git', ['clone', '--quiet', ROOT, clone]);
      },
    ],
    [
      /^sudo apt-get install -y nats-server$/,
      () => {
        execFileSync('bash', ['-c', 'command -v nats-server']);
      },
    ],
    [
      /^npm ci && npm run build$/,
      () => {
        symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'));
        execFileSync('npm', ['run', 'build', '--silent'], { cwd: clone, stdio: 'ignore' });
        mkdirSync(pathDir, { recursive: true });
        // What `npm link` would give: `moat` on the PATH.
        symlinkSync(join(clone, 'bin', 'moat'), join(pathDir, 'moat'));
        appendFileSync(
          join(clone, 'moat.yaml'),
          `\n${egressTo(provider.port, ['api.anthropic.com', 'x.internal.example.com'])}\n`,
        );
      },
    ],
    [/^npm link$/, () => undefined],
    [
      /^moat chain up$/,
      async () => {
        // The page runs it in the foreground of one terminal and the rest in another.
        foreground = spawn('moat', ['chain', 'up'], { cwd: clone, env: env() });
        foreground.stdout!.on('data', (d) => (upOutput += d));
        foreground.stderr!.on('data', (d) => (upOutput += d));
        for (let i = 0; i < 300 && !upOutput.includes('streaming hop logs'); i++)
          await new Promise((r) => setTimeout(r, 50));
        expect(upOutput, upOutput).to.contain('streaming hop logs');
      },
    ],
    [
      /^moat chain run -- curl https:\/\/api\.anthropic\.com\/v1\/models$/,
      async (command) => {
        const out = await sh(`${command} --silent --show-error`);
        expect(JSON.parse(out).data, out).to.be.an('array');
      },
    ],
    [
      /^eval "\$\(moat chain env\)"$/,
      async (command) => {
        // "A request to https://x.internal.example.com/... now gets 403 with the rule and reason from moat-policy".
        const out = await sh(`${command} && curl --silent https://x.internal.example.com/wiki -w ' %{http_code}'`);
        expect(out).to.match(/ 403$/);
        expect(JSON.parse(out.replace(/ 403$/, ''))).to.include({
          error: 'policy_denied',
          reason: 'internal APIs are off limits',
        });
      },
    ],
  ];

  before(async () => {
    provider = await new FakeProvider().start();
  });

  after(async () => {
    if (foreground && foreground.exitCode === null) foreground.kill('SIGKILL');
    const pidFile = join(home, 'chains', 'default', 'pm2', 'pm2.pid');
    if (existsSync(pidFile) && isAlive(Number(readFileSync(pidFile, 'utf8'))))
      process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    // A failed run leaves the chain's processes orphaned by that kill: everything started from the clone goes too.
    for (const pid of processesMentioning(dir.path)) process.kill(pid, 'SIGKILL');
    await provider.stop();
    dir.remove();
  });

  it('every command of the page works as the page says', async () => {
    const commands = pageCommands(readFileSync(join(ROOT, 'docs', 'getting-started.md'), 'utf8'));
    expect(commands.length).to.be.greaterThan(5);
    for (const command of commands) {
      const step = steps.find(([pattern]) => pattern.test(command));
      if (!step) throw new Error(`docs/getting-started.md has a command this test does not follow: ${command}`);
      await step[1](command);
    }
  });

  it('what the page promises after: status, the telemetry line in logs 1, and Ctrl-C stops the chain', async () => {
    const status = await sh('moat chain status');
    expect(status).to.contain('moat-policy').and.contain('online');
    expect(await sh('moat chain logs 1')).to.match(
      /moat-telemetry trace=\S+ method=GET scheme=https host=api\.anthropic\.com path=\/v1\/models status=200/,
    );
    foreground!.kill('SIGINT');
    const code = await new Promise<number | null>((r) => foreground!.on('exit', r));
    expect(code).to.equal(0);
    expect(await sh('moat chain status; true')).to.not.contain('online');
  });
});
