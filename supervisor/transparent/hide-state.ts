// Inside `run --transparent`, and inside an isolated hop's namespaces, the command must not read the chain's state
// nor see its processes (neither is trusted, and both usually run as the user who owns every state file). The
// helper (netns-main.ts), root of its own user namespace and alone in a mount namespace, mounts a /proc of its PID
// namespace, where only the command's own processes exist, and covers each state directory with an empty read-only
// tmpfs. What a hop needs from under a covered directory (its own directory, the CA files) is bound back in first,
// from a descriptor opened before the cover (its path is hidden by then). The command runs in a user namespace
// nested in the helper's, with no capability over these mounts: it cannot unmount them, and in a mount namespace of
// its own they would be locked to it (the kernel's rule for mounts from a more privileged namespace).
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { HiddenState } from './protocol';
import { isInside } from './covered-paths';

const TMPFS_OPTIONS = 'nosuid,nodev,noexec,mode=0555,size=4k';

export type HideStep =
  /** mount(8) with these arguments. */
  | { kind: 'mount'; argv: string[] }
  /** An empty directory or file (as kept path `keep` is) at `path`, inside a cover still writable. */
  | { kind: 'mountpoint'; keep: number; path: string }
  /** Kept path `keep`, by the descriptor opened before the covers, bound onto `path`. */
  | { kind: 'bind'; keep: number; path: string };

/**
 * The steps, in order (pure): the /proc first, then one empty tmpfs per covered path. A cover with kept paths inside
 * is writable until they are bound back, then made read-only; one without is read-only from the start.
 */
export function hideSteps(cover: readonly string[], keep: readonly string[] = []): HideStep[] {
  const steps: HideStep[] = [{ kind: 'mount', argv: ['-t', 'proc', '-o', 'nosuid,nodev,noexec', 'proc', '/proc'] }];
  for (const path of cover) {
    const inside = keep.map((k, i) => ({ k, i })).filter(({ k }) => k !== path && isInside(k, path));
    const tmpfs = (options: string) => ({
      kind: 'mount' as const,
      argv: ['-t', 'tmpfs', '-o', options, 'moat-hidden', path],
    });
    if (inside.length === 0) {
      steps.push(tmpfs(`ro,${TMPFS_OPTIONS}`));
      continue;
    }
    steps.push(tmpfs(TMPFS_OPTIONS));
    for (const { k, i } of inside)
      steps.push({ kind: 'mountpoint', keep: i, path: k }, { kind: 'bind', keep: i, path: k });
    steps.push({ kind: 'mount', argv: ['-o', 'remount,bind,ro,nosuid,nodev,noexec', path] });
  }
  return steps;
}

/** Runs them; a failure names its step (what the run process, or the hop's log, reports as MOAT_ERR_NAMESPACES). */
export function hideState(hide: HiddenState): void {
  const keep = hide.keep ?? [];
  const fds = keep.map((path) => attempt(`open ${path}`, () => openSync(path, 'r')));
  try {
    for (const step of hideSteps(hide.cover, keep)) {
      if (step.kind === 'mount') mount(hide.mount, step.argv, [], `mount ${step.argv.join(' ')}`);
      else if (step.kind === 'mountpoint') makeMountpoint(step.path, fstatSync(fds[step.keep]).isDirectory());
      // --no-canonicalize: mount(8) would otherwise resolve the descriptor's link to its path, hidden by now.
      else
        mount(
          hide.mount,
          ['--no-canonicalize', '--bind', '/proc/self/fd/3', step.path],
          [fds[step.keep]],
          `bind ${step.path}`,
        );
    }
  } finally {
    for (const fd of fds) closeSync(fd);
  }
  // A working directory under a covered path would still lead into it (`..` from where it is): found again by its
  // path, it is the kept directory bound back in, or the empty cover.
  const cwd = process.cwd();
  try {
    process.chdir(cwd);
  } catch {
    process.chdir('/');
  }
}

function makeMountpoint(path: string, directory: boolean): void {
  attempt(`make ${path}`, () => {
    mkdirSync(dirname(path), { recursive: true });
    if (directory) mkdirSync(path);
    else writeFileSync(path, '');
  });
}

/** mount(8), `fds` passed as its descriptors 3, 4, ... */
function mount(tool: string, argv: string[], fds: number[], step: string): void {
  const run = spawnSync(tool, argv, { stdio: ['ignore', 'ignore', 'pipe', ...fds] });
  if (run.status === 0) return;
  const why = String(run.stderr ?? '').trim() || run.error?.message || `exit status ${run.status}`;
  throw Object.assign(new Error(why), { step });
}

function attempt<T>(step: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw Object.assign(new Error((err as Error).message), { step });
  }
}
