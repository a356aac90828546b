// Where a command is: a path as given, else the first directory of PATH that has it.
import { existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

export function findOnPath(command: string, path: string = process.env.PATH ?? ''): string | undefined {
  return everyOnPath(command, path)[0];
}

/** Every place PATH has the command, in PATH's order (a path as given, if it exists). */
export function everyOnPath(command: string, path: string = process.env.PATH ?? ''): string[] {
  if (command.includes('/')) return existsSync(command) ? [resolve(command)] : [];
  return path
    .split(delimiter)
    .filter((dir) => dir !== '')
    .map((dir) => join(dir, command))
    .filter((candidate) => existsSync(candidate));
}
