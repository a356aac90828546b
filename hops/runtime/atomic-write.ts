// Writes a file whole or not at all: the bytes go to a temporary file next to it, flushed to
// disk, which then takes the name. Without overwrite the name is taken by a hard link, which
// fails if the name exists, so nothing appearing in the meantime is clobbered either.
import { closeSync, existsSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export function writeFileAtomic(file: string, data: Buffer, o: { overwrite: boolean; mode: number }): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = openSync(tmp, 'wx', o.mode);
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (o.overwrite) renameSync(tmp, file);
    else linkOrRename(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
}

function linkOrRename(tmp: string, file: string): void {
  try {
    linkSync(tmp, file);
  } catch (err) {
    // A file system without hard links: check, then rename (a small window, but the best it offers).
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' || existsSync(file))
      throw Object.assign(new Error(`${file} exists`), { code: 'EEXIST' });
    renameSync(tmp, file);
  }
}
