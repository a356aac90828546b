// Where a command is: a path as given, else the first directory of PATH that has it.
import { existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

export function findOnPath(command: string, path: string = process.env.PATH ?? ''): string | undefined {
  if (command.includes('/')) return existsSync(command) ? resolve(command) : undefined;
  for (const dir of path.split(delimiter)) {
    const candidate = join(dir, command);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}
