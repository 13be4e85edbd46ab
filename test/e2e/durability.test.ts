import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../helpers/duckdb.js';
import { jsonLines, shapeA } from '../helpers/events.js';
import { REPO, Workspace } from '../helpers/workspace.js';

/** strace where it is installed and allowed (`--seccomp-bpf`: only the traced calls stop the process). */
const STRACE = ['-f', '-qq', '-y', '--seccomp-bpf', '-e', 'trace=fsync,rename,renameat,renameat2'];
const straceWorks = spawnSync('strace', [...STRACE, 'true']).status === 0;

const onDay = (id: string, day: string, minute: number) =>
  shapeA(id, minute, { timestamp: `${day}T08:${String(minute).padStart(2, '0')}:00Z` });

describe('lake durability (DESIGN.md decision 2)', () => {
  const ws = new Workspace();
  let lake = '';
  let trace: string[] = [];

  beforeAll(() => {
    mkdirSync(ws.path('inbox'));
    const days = ['2026-04-08', '2026-04-09', '2026-04-10'];
    writeFileSync(ws.path('inbox', 'a.jsonl'), jsonLines(days.map((day, i) => onDay(`a-${i}`, day, i))));
    writeFileSync(
      ws.path('inbox', 'b.jsonl.gz'),
      gzipSync(jsonLines(days.flatMap((day, i) => [onDay(`b-${i}`, day, 10 + i), onDay(`c-${i}`, day, 20 + i)]))),
    );
    const config = ws.writeConfig({ source: { kind: 'files', files: ws.path('inbox') } });
    const cli = ['dist/cli/main.js', 'run', '--config', config];
    const traceFile = ws.path('strace.txt');
    const run = straceWorks
      ? spawnSync('strace', [...STRACE, '-o', traceFile, process.execPath, ...cli], { cwd: REPO, encoding: 'utf8' })
      : spawnSync(process.execPath, cli, { cwd: REPO, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    lake = realpathSync(ws.lake);
    if (straceWorks) trace = readFileSync(traceFile, 'utf8').split('\n');
  }, 120_000);
  afterAll(() => ws.remove());

  it('after a run every lake partition exists, is complete (an independent reader counts its rows) and nothing is pending', async () => {
    for (const table of ['fact_ai_event', 'fact_policy_evaluation']) {
      const expected = await query(
        ws.warehouse,
        `SELECT strftime(make_date(date_key // 10000, date_key // 100 % 100, date_key % 100), '%Y-%m-%d') AS day,
           count(*)::INTEGER AS n FROM ${table} GROUP BY ALL ORDER BY day`,
      );
      expect(expected.map((r) => r.day)).toEqual(['2026-04-08', '2026-04-09', '2026-04-10']);
      const partitions = readdirSync(join(lake, table)).sort();
      expect(partitions).toEqual(expected.map((r) => `event_date=${String(r.day)}`));
      for (const { day, n } of expected) {
        const files = readdirSync(join(lake, table, `event_date=${String(day)}`));
        let rows = 0;
        for (const file of files) {
          const metadata = await parquetMetadataAsync(
            await asyncBufferFromFile(join(lake, table, `event_date=${String(day)}`, file)),
          );
          rows += Number(metadata.num_rows);
        }
        expect(rows, `${table} ${String(day)}`).toBe(n);
      }
    }
    expect(await query(ws.warehouse, 'SELECT * FROM etl_lake_pending')).toEqual([]);
    expect(existsSync(join(lake, '.tmp')) ? readdirSync(join(lake, '.tmp')) : []).toEqual([]);
  });

  it.skipIf(!straceWorks)(
    'every lake file (or version symlink) is fsynced before its rename, and its folder after (strace)',
    () => {
      const renames = trace.flatMap((line, at) => {
        const match = /rename(?:at2?)?\((?:\S+, )?"([^"]+)", (?:\S+, )?"([^"]+)"/.exec(line);
        return match && match[2]!.startsWith(`${lake}/`) ? [{ at, from: match[1]!, to: match[2]! }] : [];
      });
      // Three days of two fact tables, plus the dimensions.
      expect(renames.length).toBeGreaterThanOrEqual(6);
      const fsyncAt = (path: string) =>
        trace.flatMap((line, at) => (line.includes(`fsync(`) && line.includes(`<${path}>`) ? [at] : []));
      for (const { at, from, to } of renames) {
        // A fact table's new symlink (lake/layout.ts) is made durable by its folder, synced after it was made.
        const synced = from.endsWith('.link') ? dirname(from) : from;
        expect(
          fsyncAt(synced).some((i) => i < at),
          `${synced} synced before the rename of ${from}`,
        ).toBe(true);
        expect(
          fsyncAt(dirname(to)).some((i) => i > at),
          `${dirname(to)} synced after the rename`,
        ).toBe(true);
      }
    },
  );
});
