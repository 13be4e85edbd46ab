import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Flushes a file's (or a directory's entries') data to the disk. */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** `mkdir -p` whose new folders survive a power loss: each is synced into its parent. */
export function mkdirDurably(dir: string): void {
  const firstCreated = mkdirSync(dir, { recursive: true });
  if (firstCreated === undefined) return;
  for (let created = dir; ; created = dirname(created)) {
    fsyncPath(dirname(created));
    if (created === firstCreated) return;
  }
}

/**
 * Moves a finished temporary file into place so that it survives a power
 * loss (DESIGN.md decision 2): a rename is only a directory entry, so without
 * these syncs the disk can hold the new name pointing at an empty file, or the
 * old name. Order: the file's data, then the rename, then the directory that
 * holds the new name (created durably if missing).
 */
export function renameDurably(tmp: string, dest: string): void {
  fsyncPath(tmp);
  const dir = dirname(dest);
  mkdirDurably(dir);
  renameSync(tmp, dest);
  fsyncPath(dir);
}

/** Writes `data` beside `dest` and moves it into place durably: readers see the old or the new file, whole. */
export function writeFileDurably(dest: string, data: string): void {
  const tmp = `${dest}.${process.pid}.tmp`;
  mkdirDurably(dirname(dest));
  writeFileSync(tmp, data);
  renameDurably(tmp, dest);
}
