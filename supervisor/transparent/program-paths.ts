// An isolated hop sees none of the user's home (covered-paths.ts): the files there hold the user's keys (a shell
// profile exporting ANTHROPIC_API_KEY, ~/.claude's and ~/.codex's logins, ~/.ssh, ~/.aws). What it needs to run is
// brought back read-only: the hop's program, the files its command line names, and the interpreter its first line
// asks for, each with the install it belongs to (a program under ~/.nvm, ~/.local or a venv loads more from there).
import { closeSync, openSync, readSync } from 'node:fs';
import { basename, isAbsolute, join, relative } from 'node:path';
import { findOnPath } from '../chain/find-on-path';
import { isInside } from '../chain/private-files';

/**
 * The paths the hop's command needs (not yet resolved or rooted): the binary, the interpreter of a script, and every
 * word of the command that is an absolute path (a script handed to an interpreter, a config file).
 */
export function commandPrograms(binary: string, args: readonly string[], pathEnv: string): string[] {
  const interpreter = interpreterOf(binary, pathEnv);
  return [binary, ...(interpreter ? [interpreter] : []), ...args.filter((a) => isAbsolute(a))];
}

/**
 * What stays readable of `home` for a program at `path` in it (pure; both real paths): the installs it belongs to
 * are not known, so the directory of the home that holds it (~/.nvm, ~/.local, ~/.pyenv), or its `node_modules`
 * (a project's tools, without the project's own files); a file right in the home alone. A path outside the home is
 * itself.
 */
export function programRoot(path: string, home: string): string {
  if (path === home || !isInside(path, home)) return path;
  const parts = relative(home, path).split('/');
  const modules = parts.indexOf('node_modules');
  if (modules >= 0) return join(home, ...parts.slice(0, modules + 1));
  return parts.length === 1 ? path : join(home, parts[0]);
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
    fd = openSync(file, 'r');
    const head = Buffer.alloc(256);
    const n = readSync(fd, head, 0, head.length, 0);
    return head.subarray(0, n).toString('latin1').split('\n')[0];
  } catch {
    return undefined; // unreadable, or a directory: not a script
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
