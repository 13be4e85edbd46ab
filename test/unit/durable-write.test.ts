import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { renameDurably, writeFileDurably } from '../../src/util/durable-write.js';

/** Every fsync (named by the path its descriptor was opened on) and rename the helper makes, in order. */
const calls: string[] = [];
let root = '';
const name = (path: string) => relative(root, path) || '.';

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const opened = new Map<number, string>();
  return {
    ...fs,
    openSync: (...args: Parameters<typeof fs.openSync>) => {
      const fd = fs.openSync(...args);
      opened.set(fd, String(args[0]));
      return fd;
    },
    fsyncSync: (fd: number) => {
      fs.fsyncSync(fd);
      calls.push(`fsync ${name(opened.get(fd)!)}`);
    },
    renameSync: (from: string, to: string) => {
      fs.renameSync(from, to);
      calls.push(`rename ${name(from)} -> ${name(to)}`);
    },
  };
});

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'aetl-durable-'));
  calls.length = 0;
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('durable writes', () => {
  it('syncs the file, then renames, then syncs the directory; new folders are synced into their parents first', () => {
    mkdirSync(join(root, '.tmp'));
    writeFileSync(join(root, '.tmp', 'x.parquet'), 'rows');
    renameDurably(join(root, '.tmp', 'x.parquet'), join(root, 'fact', 'event_date=2026-04-10', 'data.parquet'));
    expect(calls).toEqual([
      'fsync .tmp/x.parquet',
      'fsync fact', // holds the new event_date=… folder
      'fsync .', // holds the new fact folder
      'rename .tmp/x.parquet -> fact/event_date=2026-04-10/data.parquet',
      'fsync fact/event_date=2026-04-10',
    ]);
    expect(readFileSync(join(root, 'fact', 'event_date=2026-04-10', 'data.parquet'), 'utf8')).toBe('rows');
    expect(existsSync(join(root, '.tmp', 'x.parquet'))).toBe(false);
  });

  it('replaces a file whole, synced before and after the rename, leaving no temporary file', () => {
    writeFileSync(join(root, 'state.json'), 'old');
    writeFileDurably(join(root, 'state.json'), 'new');
    const tmp = `state.json.${process.pid}.tmp`;
    expect(calls).toEqual([`fsync ${tmp}`, `rename ${tmp} -> state.json`, 'fsync .']);
    expect(readFileSync(join(root, 'state.json'), 'utf8')).toBe('new');
    expect(existsSync(join(root, tmp))).toBe(false);
  });
});
