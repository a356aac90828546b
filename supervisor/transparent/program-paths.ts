// An isolated hop sees none of the user's home (covered-paths.ts): the files there hold the user's keys (a shell
// profile exporting ANTHROPIC_API_KEY, ~/.claude's and ~/.codex's logins, ~/.ssh, ~/.aws, a project's .env). What its
// command needs to run is brought back read-only, and no more: its program and the interpreter a script asks for,
// each with the install it belongs to (a venv, an nvm or pyenv version), and the files its command line names alone.
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  lstatSync,
  openSync,
  readlinkSync,
  readSync,
  realpathSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { findOnPath } from '../chain/find-on-path';
import { isInside } from '../chain/private-files';

export interface CommandPrograms {
  /** Kept as they are: the absolute paths among the command's words (a config file, a script handed over). */
  exact: string[];
  /** Kept with their install (`installRoot`): the binary, and the interpreter its `#!` line asks for. */
  installed: string[];
}

/** What the hop's command needs (paths as the command and PATH name them; followed where they are kept). */
export function commandPrograms(binary: string, args: readonly string[], pathEnv: string): CommandPrograms {
  const interpreter = interpreterOf(binary, pathEnv);
  return { exact: args.filter((a) => isAbsolute(a)), installed: interpreter ? [binary, interpreter] : [binary] };
}

/**
 * The path the hop's command runs: one in /run (NixOS's /run/current-system) by where it leads; a script in the home
 * by where it leads too (its interpreter finds its modules from there); any other as named (a venv's python knows
 * its venv by that path; kept there, as the file it leads to).
 */
export function runnablePath(binary: string, home: string, pathEnv: string, run = '/run'): string {
  if (isInside(binary, run)) return realpathSync(binary);
  const inHome = home !== '/' && isInside(binary, home);
  return inHome && interpreterOf(binary, pathEnv) ? realpathSync(binary) : binary;
}

// What marks the directory above a `bin` as one install: a venv, conda, pyenv's or rbenv's root (its shims); or a
// version manager's `versions` on the way (nvm, pyenv). A project's or ~/.local's bin holds programs beside the
// user's own files.
const INSTALL_MARKS = ['pyvenv.cfg', 'conda-meta', 'versions'];

/**
 * What stays readable of `home` for a program at `path` in it (both real paths): the install it belongs to, which it
 * loads more from. The `node_modules` on its way (an npm prefix's, a project's, without the project's own files);
 * the directory above its `bin` or `shims` where that is marked as one install (`INSTALL_MARKS`); else the program
 * alone. A path outside the home is itself.
 */
export function installRoot(path: string, home: string, exists: (p: string) => boolean = existsSync): string {
  if (path === home || !isInside(path, home)) return path;
  const parts = relative(home, path).split(sep);
  const modules = parts.indexOf('node_modules');
  if (modules >= 0) return join(home, ...parts.slice(0, modules + 1));
  const dir = parts[parts.length - 2];
  if ((dir !== 'bin' && dir !== 'shims') || parts.length < 3) return path;
  const above = parts.slice(0, -2);
  const root = join(home, ...above);
  if (above.includes('versions') || INSTALL_MARKS.some((mark) => exists(join(root, mark)))) return root;
  return path;
}

/** env's options that take the next word (`-u NAME`, `-C DIR`). */
const ENV_OPTION_ARGUMENT = new Set(['-u', '--unset', '-C', '--chdir']);

/** The program a script's `#!` line runs (`/usr/bin/env NAME` looked up on PATH), or none. */
export function interpreterOf(file: string, pathEnv: string): string | undefined {
  const line = firstLine(file);
  if (!line?.startsWith('#!')) return undefined;
  const words = line.slice(2).trim().split(/\s+/);
  if (basename(words[0]) !== 'env') return words[0] || undefined;
  // env's options (-S, -i, -u NAME) and assignments (NAME=value) come before the program.
  for (let i = 1; i < words.length; i++) {
    if (ENV_OPTION_ARGUMENT.has(words[i])) i++;
    else if (!words[i].startsWith('-') && !words[i].includes('=')) return findOnPath(words[i], pathEnv);
  }
  return undefined;
}

/**
 * Where `path` leads, each link on the way followed by hand: undefined if any step (as written, or where a link
 * leads) is one `refused` names, or the way is broken. realpath(3) would tell only the end, not a link on the way
 * inside a directory the hop writes.
 */
export function followedPath(path: string, refused: (p: string) => boolean): string | undefined {
  const pending = path.split('/').filter((p) => p !== '');
  let current = '/';
  for (let links = 0; pending.length > 0;) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      current = dirname(current);
      continue;
    }
    const next = join(current, part);
    if (refused(next)) return undefined;
    let target: string;
    try {
      if (!lstatSync(next).isSymbolicLink()) {
        current = next;
        continue;
      }
      target = readlinkSync(next);
    } catch {
      return undefined;
    }
    if (++links > 40) return undefined; // a loop
    pending.unshift(...target.split('/').filter((p) => p !== ''));
    if (isAbsolute(target)) current = '/';
  }
  return refused(current) ? undefined : current;
}

function firstLine(file: string): string | undefined {
  let fd: number | undefined;
  try {
    // Non-blocking: a FIFO in the binary's place would otherwise hold `up` until something writes to it.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    if (!fstatSync(fd).isFile()) return undefined;
    const head = Buffer.alloc(256);
    const n = readSync(fd, head, 0, head.length, 0);
    return head.subarray(0, n).toString('latin1').split('\n')[0];
  } catch {
    return undefined; // unreadable: not a script
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
