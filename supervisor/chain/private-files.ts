// State files are the user's alone (security invariant 5): MOAT_HOME, every chain's state directory and pm2 home,
// and everything under them are 0700 (directories) / 0600 (files, sockets included). New files get it from the
// umask `up` sets before pm2's daemon starts (the daemon and every process it starts inherit it); files of an
// older install, or made by a process that ignores the umask, are fixed by walking the tree at `up`.
import { chmodSync, lstatSync, mkdirSync, readdirSync, realpathSync, type Stats } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { MoatError } from '../errors';

/** The umask of `up` and everything it starts: no bit for group or others. */
export const PRIVATE_UMASK = 0o077;

export type EntryKind = 'dir' | 'file' | 'symlink' | 'other';

/**
 * The mode an entry should have, or undefined when it is right already (pure). Directories 0700; anything else
 * (sockets too) 0600, a regular file keeping its owner's execute bit (a hop may keep a program in its directory).
 * Symbolic links are left alone: chmod would follow them (pm2's dump.pm2 points at /dev/null).
 */
export function privateMode(kind: EntryKind, mode: number): number | undefined {
  if (kind === 'symlink') return undefined;
  const bits = mode & 0o7777;
  const wanted = kind === 'dir' ? 0o700 : 0o600 | (kind === 'file' ? bits & 0o100 : 0);
  return bits === wanted ? undefined : wanted;
}

function kindOf(st: Stats): EntryKind {
  return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
}

/** Makes root and everything under it private; returns the paths whose mode it changed. A missing root is no error. */
export function makeTreePrivate(root: string): string[] {
  const changed: string[] = [];
  const visit = (path: string) => {
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch (err) {
      // gone meanwhile (a spool file stored, a socket closed)
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw stateError(path, err);
    }
    const kind = kindOf(st);
    const wanted = privateMode(kind, st.mode);
    if (wanted !== undefined) {
      try {
        chmodSync(path, wanted);
        changed.push(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw stateError(path, err);
      }
    }
    if (kind === 'dir') for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(root);
  return changed;
}

/**
 * A directory of this user's, 0700, made when missing. Refused when the path is a symbolic link or someone else's:
 * in a shared directory such as /tmp (pm2's home when the state directory's path is too long for its sockets),
 * another user could have made it first to read or plant what moat keeps there.
 */
export function ensurePrivateDir(dir: string, uid: number | undefined = process.getuid?.()): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw stateError(dir, err);
  }
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.isSymbolicLink()) {
    throw new MoatError(
      'MOAT_ERR_STATE_DIR',
      `${dir} is not a directory (${st.isSymbolicLink() ? 'a symbolic link' : 'a file'}); moat keeps private ` +
        `state there: remove it and try again`,
    );
  }
  if (uid !== undefined && st.uid !== uid) {
    throw new MoatError(
      'MOAT_ERR_STATE_DIR',
      `${dir} belongs to another user (uid ${st.uid}, you are ${uid}); moat keeps private state there: ` +
        `remove it, or set MOAT_HOME to a shorter path of your own`,
    );
  }
  if ((st.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
}

function stateError(path: string, err: unknown): MoatError {
  return new MoatError(
    'MOAT_ERR_STATE_DIR',
    `cannot make ${path} private to you (0700/0600): ${(err as Error).message}`,
  );
}

/**
 * `up`, before anything starts: the umask every file of the chain is made with from now on (this process, pm2's
 * daemon it spawns, and the daemon's apps), and MOAT_HOME and pm2's home (in /tmp when the state directory's path is
 * too long) made private, files of an older install included.
 */
export function makeStatePrivate(layout: { moatHome: string; pm2Home: string }): void {
  process.umask(PRIVATE_UMASK);
  try {
    mkdirSync(layout.moatHome, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw stateError(layout.moatHome, err);
  }
  // MOAT_HOME may be a symbolic link the user made: its target is what gets private.
  makeTreePrivate(realpathSync(layout.moatHome));
  if (!isInside(layout.pm2Home, layout.moatHome)) {
    ensurePrivateDir(layout.pm2Home);
    makeTreePrivate(layout.pm2Home);
  }
}

/** `path` is `dir` or lies under it. */
export function isInside(path: string, dir: string): boolean {
  const rel = relative(resolve(dir), resolve(path));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}
