// A hop's files (`files:` of its manifest or config), written into its directory at each `up`. That directory is the
// hop's own and writable by it, inside its namespaces too, so what it left there is not trusted: a link, a FIFO or a
// second name of another file in place of a file, or of a directory on the way, would make `up` write, as the user,
// where the hop chose (a shell profile, another program's config). Each part of the way is checked without following
// links, anything else in its place is removed, and the file is opened without following a link.
import { closeSync, constants, lstatSync, mkdirSync, openSync, rmSync, writeSync, type Stats } from 'node:fs';
import { join, normalize, sep } from 'node:path';

export function writeHopFiles(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [name, content] of Object.entries(files)) {
    const parts = normalize(name).split(sep);
    if (parts.some((p) => p === '..' || p === '') || name.startsWith('/'))
      throw new Error(`a hop's file must stay in its directory: ${name}`);
    let at = dir;
    for (const part of parts.slice(0, -1)) {
      at = join(at, part);
      const st = entry(at);
      if (st?.isDirectory()) continue;
      if (st) rmSync(at, { force: true });
      mkdirSync(at, { mode: 0o700 });
    }
    const target = join(at, parts[parts.length - 1]);
    const st = entry(target);
    if (st && (!st.isFile() || st.nlink > 1)) rmSync(target, { recursive: true, force: true });
    const fd = openSync(
      target,
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW | constants.O_NONBLOCK,
      0o600,
    );
    try {
      writeSync(fd, content);
    } finally {
      closeSync(fd);
    }
  }
}

function entry(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}
