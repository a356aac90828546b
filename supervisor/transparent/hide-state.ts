// Inside `run --transparent`, and inside an isolated hop's namespaces, the command must not read the chain's state
// nor see its processes (neither is trusted, and both usually run as the user who owns every state file). The
// helper (netns-main.ts), root of its own user namespace and alone in a mount namespace, mounts a /proc of its PID
// namespace, where only the command's own processes exist, and covers each state directory with an empty read-only
// tmpfs. An isolated hop gets more: every other mount made read-only, so it can change none of the user's files
// (a config, a binary, a shell's profile that would run its code outside later), and an empty writable tmpfs of its
// own over the directories where programs keep sockets and scratch files (/tmp with other chains' pm2 homes, the
// user's runtime directory with its session bus). What it needs from under these (its own directory, writable; the
// CA files, read-only) is bound back in from a descriptor opened before (its path is hidden by then). The command
// runs in a user namespace nested in the helper's, with no capability over these mounts: it cannot unmount or
// remount them, and in a mount namespace of its own they would be locked to it (the kernel's rule for mounts from a
// more privileged namespace).
import { spawnSync } from 'node:child_process';
import {
  accessSync,
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import type { HiddenState } from './protocol';
import { outermost } from './covered-paths';
import { isInside } from '../chain/private-files';

const COVER_OPTIONS = 'nosuid,nodev,noexec,mode=0555,size=4k';
const FRESH_OPTIONS = 'nosuid,nodev,mode=1777';

export type HideStep =
  /** mount(8) with these arguments. */
  | { kind: 'mount'; argv: string[] }
  /** Made read-only; left as it is where neither this process nor the command can reach its path. */
  | { kind: 'read-only'; argv: string[]; path: string }
  /** An empty directory or file (as kept path `keep` is) at `path`, inside a tmpfs still writable. */
  | { kind: 'mountpoint'; keep: number; path: string }
  /** Kept path `keep`, by the descriptor opened before the covers, bound onto `path`. */
  | { kind: 'bind'; keep: number; path: string };

/** One line of /proc/self/mountinfo: where a mount is and its per-mount options (pure). */
export interface MountEntry {
  path: string;
  options: string[];
}

export function parseMountinfo(text: string): MountEntry[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const fields = line.split(' ');
      // Spaces and the like in a path are written as octal escapes (\040).
      const path = fields[4].replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
      return { path, options: fields[5].split(',') };
    });
}

/**
 * The steps, in order (pure). For a read-only view, every writable mount first (but /proc, replaced next, the
 * terminals' /dev/pts, and what a tmpfs will hide), while the paths still lead to them. Then the /proc, then one
 * tmpfs per covered or fresh directory: a cover is writable until what it keeps is bound back in, then read-only.
 */
export function hideSteps(hide: Omit<HiddenState, 'mount'>, mounts: MountEntry[] = []): HideStep[] {
  const fresh = hide.fresh ?? [];
  const keep = hide.keep ?? [];
  const masks = outermost([...hide.cover, ...fresh]);
  const masked = (path: string) => masks.some((m) => isInside(path, m));
  const steps: HideStep[] = [];
  if (hide.readOnly) {
    // The last mount at a path is the one on top there, the one its path leads to.
    const onTop = mounts.filter((m, i) => !mounts.slice(i + 1).some((later) => later.path === m.path));
    for (const m of onTop) {
      if (m.options[0] !== 'rw' || masked(m.path)) continue;
      if (isInside(m.path, '/proc') || isInside(m.path, '/dev/pts')) continue;
      steps.push({ kind: 'read-only', argv: ['-o', remount('ro', m.options), m.path], path: m.path });
    }
  }
  steps.push({ kind: 'mount', argv: ['-t', 'proc', '-o', 'nosuid,nodev,noexec', 'proc', '/proc'] });
  // The mount a kept path lies on, by the longest mount point above it: its flags, which a remount must keep.
  const optionsAt = (path: string) =>
    mounts.filter((m) => isInside(path, m.path)).sort((a, b) => b.path.length - a.path.length)[0]?.options ?? ['rw'];
  const restore = (k: { path: string; writable?: boolean }): HideStep[] => {
    if (!k.writable) return [{ kind: 'mount', argv: ['-o', remount('ro', optionsAt(k.path)), k.path] }];
    return hide.readOnly ? [{ kind: 'mount', argv: ['-o', remount('rw', optionsAt(k.path)), k.path] }] : [];
  };
  for (const path of masks) {
    const isCover = hide.cover.includes(path);
    const inside = keep.map((k, i) => ({ k, i })).filter(({ k }) => k.path !== path && isInside(k.path, path));
    if (isCover && inside.length === 0) {
      steps.push(tmpfs(`ro,${COVER_OPTIONS}`, path));
      continue;
    }
    steps.push(tmpfs(isCover ? COVER_OPTIONS : FRESH_OPTIONS, path));
    for (const { k, i } of inside)
      steps.push({ kind: 'mountpoint', keep: i, path: k.path }, { kind: 'bind', keep: i, path: k.path }, ...restore(k));
    if (isCover) steps.push({ kind: 'mount', argv: ['-o', 'remount,bind,ro,nosuid,nodev,noexec', path] });
  }
  // A writable kept path under no tmpfs is bound onto itself, so that it alone can be writable again.
  keep.forEach((k, i) => {
    if (masked(k.path) || !k.writable || !hide.readOnly) return;
    steps.push({ kind: 'bind', keep: i, path: k.path }, ...restore(k));
  });
  return steps;
}

function tmpfs(options: string, path: string): HideStep {
  return { kind: 'mount', argv: ['-t', 'tmpfs', '-o', options, 'moat-hidden', path] };
}

/** remount,bind with `access` and the other per-mount flags kept (a flag the namespace inherited is locked). */
function remount(access: 'ro' | 'rw', options: string[]): string {
  return ['remount', 'bind', access, ...options.filter((o) => o !== 'rw' && o !== 'ro')].join(',');
}

/** Runs them; a failure names its step (what the run process, or the hop's log, reports as MOAT_ERR_NAMESPACES). */
export function hideState(hide: HiddenState): void {
  const keep = hide.keep ?? [];
  const fds = keep.map((k) => attempt(`open ${k.path}`, () => openSync(k.path, 'r')));
  const mounts = hide.readOnly ? parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')) : [];
  try {
    for (const step of hideSteps(hide, mounts)) {
      if (step.kind === 'mount') mount(hide.mount, step.argv, [], `mount ${step.argv.join(' ')}`);
      else if (step.kind === 'read-only') readOnly(hide.mount, step.argv, step.path);
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

/** A mount this process cannot reach the path of (another user's directory) is out of the command's reach too. */
function readOnly(tool: string, argv: string[], path: string): void {
  try {
    mount(tool, argv, [], `mount ${argv.join(' ')}`);
  } catch (err) {
    try {
      accessSync(path);
    } catch {
      return;
    }
    throw err;
  }
}

/** Made in a tmpfs of this namespace; one already there is left as it is (never emptied). */
function makeMountpoint(path: string, directory: boolean): void {
  attempt(`make ${path}`, () => {
    mkdirSync(dirname(path), { recursive: true });
    if (existsSync(path)) return;
    if (directory) mkdirSync(path);
    else writeFileSync(path, '', { flag: 'wx' });
  });
}

/**
 * mount(8), `fds` passed as its descriptors 3, 4, ... With -n: these mounts are the namespace's own, so nothing goes
 * into the machine's /run/mount/utab (which a helper run by root could write), and each call is quicker (`up` of the
 * bench's five hops, three isolated: median 3156 -> 2636 ms over six rounds each, docs/benchmarks.md).
 */
function mount(tool: string, argv: string[], fds: number[], step: string): void {
  const run = spawnSync(tool, ['-n', ...argv], { stdio: ['ignore', 'ignore', 'pipe', ...fds] });
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
