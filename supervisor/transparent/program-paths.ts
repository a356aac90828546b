// An isolated hop sees none of the user's home (covered-paths.ts): the files there hold the user's keys (a shell
// profile exporting ANTHROPIC_API_KEY, ~/.claude's and ~/.codex's logins, ~/.ssh, ~/.aws, a project's .env). What its
// command needs to run is brought back read-only, and no more: a binary and the files its command line names as they
// are, a script and its interpreter with the install they belong to (a venv, an nvm or pyenv version), which they
// load more from.
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { basename, isAbsolute, join, relative, sep } from 'node:path';
import { findOnPath } from '../chain/find-on-path';
import { isInside } from '../chain/private-files';

export interface CommandPrograms {
  /** Kept as they are: a binary that is no script, and the absolute paths among the command's words. */
  exact: string[];
  /** Kept with their install (`installRoot`): a script, and the interpreter its `#!` line asks for. */
  installed: string[];
}

/** What the hop's command needs (paths as the command and PATH name them; resolved where they are kept). */
export function commandPrograms(binary: string, args: readonly string[], pathEnv: string): CommandPrograms {
  const interpreter = interpreterOf(binary, pathEnv);
  const named = args.filter((a) => isAbsolute(a));
  if (!interpreter) return { exact: [binary, ...named], installed: [] };
  return { exact: named, installed: [binary, interpreter] };
}

/**
 * The path the hop's command runs: one in the user's home by where it leads, since a link there (~/.local/bin's,
 * a dotfiles ~/bin) lies under the home's cover, and only what it leads to is kept.
 */
export function runnablePath(binary: string, home: string): string {
  return home !== '/' && isInside(binary, home) ? realpathSync(binary) : binary;
}

/**
 * What stays readable of `home` for a script or an interpreter at `path` in it (pure; both real paths): the install
 * it belongs to, which it loads more from. The `node_modules` on its way (an npm prefix's, a project's, without the
 * project's own files); the directory above its `bin` (a venv, an nvm or pyenv version), but for a `bin` right under
 * a directory of the home (~/.local/bin, ~/go/bin hold the programs of many installs beside the user's files); the
 * root of a `shims` directory (pyenv's shims run the tool from there); else the file alone. A path outside the home
 * is itself.
 */
export function installRoot(path: string, home: string): string {
  if (path === home || !isInside(path, home)) return path;
  const parts = relative(home, path).split(sep);
  const modules = parts.indexOf('node_modules');
  if (modules >= 0) return join(home, ...parts.slice(0, modules + 1));
  const dir = parts[parts.length - 2];
  if ((dir === 'bin' && parts.length >= 4) || (dir === 'shims' && parts.length >= 3))
    return join(home, ...parts.slice(0, -2));
  return path;
}

/** The program a script's `#!` line runs (`/usr/bin/env NAME` looked up on PATH), or none. */
export function interpreterOf(file: string, pathEnv: string): string | undefined {
  const line = firstLine(file);
  if (!line?.startsWith('#!')) return undefined;
  const words = line.slice(2).trim().split(/\s+/);
  if (basename(words[0]) !== 'env') return words[0] || undefined;
  // env's options (-S, -i) and assignments (NAME=value) come before the program.
  const name = words.slice(1).find((w) => !w.startsWith('-') && !w.includes('='));
  return name ? findOnPath(name, pathEnv) : undefined;
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
