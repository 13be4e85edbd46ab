import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { ScheduleState } from '../../src/schedule/schedule-state.js';
import { Scheduler } from '../../src/schedule/scheduler.js';
import { readSourceFile } from '../../src/source/files.js';
import { EXIT, type ExitCode } from '../../src/util/errors.js';
import type { StopSignal } from '../../src/util/stop.js';
import { openDuckDB } from '../../src/warehouse/duckdb/duckdb-driver.js';

const openFds = () => readdirSync('/proc/self/fd').length;

/**
 * The open descriptors once pending closes (they are asynchronous) have happened, waiting at most
 * ~2 s (with node:timers/promises, which the scheduler test's fake timers leave real).
 */
async function settledFds(atMost: number): Promise<number> {
  for (let i = 0; i < 200 && openFds() > atMost; i++) await sleep(10);
  return openFds();
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const memory = () => {
  gc();
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
};

/**
 * A first batch (1,000 records) of tiny records, cheap to parse, then records
 * of random text, so that the file, gzipped or not, is far larger than one
 * read buffer (64 KiB): a reader stopped after the first batch is mid-file.
 */
const events = Array.from({ length: 1100 }, (_, i) => ({
  id: `e-${i}`,
  request_source: i < 1000 ? 'x' : randomBytes(768).toString('base64'),
}));
const CSV = `id,request_source\n${events.map((e) => `${e.id},${e.request_source}`).join('\n')}`;
const JSONL = events.map((e) => JSON.stringify(e)).join('\n');
const FILES: Record<string, string | Buffer> = {
  'events.jsonl.gz': gzipSync(JSONL),
  'events.csv.gz': gzipSync(CSV),
  'events.json.gz': gzipSync(JSON.stringify(events)),
  'events.jsonl': JSONL,
  'events.csv': CSV,
  'events.json': JSON.stringify(events),
  // Breaks off mid-stream: the reader itself fails.
  'truncated.jsonl.gz': gzipSync(JSONL).subarray(0, 70_000),
};

describe.skipIf(!existsSync('/proc/self/fd'))('file descriptors and memory of the long-lived scheduler', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aetl-leaks-'));
  const path = (name: string) => join(dir, name);
  beforeAll(() => {
    for (const [name, content] of Object.entries(FILES)) writeFileSync(path(name), content);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // Fewer reads of CSV and JSON arrays: their parsers are ~10x slower than the JSON lines splitter.
  it.each([
    ['events.jsonl.gz', 30],
    ['events.jsonl', 30],
    ['events.csv.gz', 10],
    ['events.csv', 10],
    ['events.json.gz', 10],
    ['events.json', 10],
  ])(
    '%s read %i times, abandoned after the first batch (break or a throwing consumer): no descriptor left open',
    async (name, reads) => {
      const before = openFds();
      for (let i = 0; i < reads; i++) {
        const reading = (async () => {
          for await (const batch of readSourceFile(path(name), 1024 ** 2)) {
            expect(batch).toHaveLength(1000);
            if (i % 2 === 0) break;
            throw new Error('the package failed');
          }
        })();
        await (i % 2 === 0 ? reading : expect(reading).rejects.toThrow('the package failed'));
      }
      expect(await settledFds(before)).toBe(before);
    },
  );

  /**
   * One fire of the scheduler's job, with failures injected by turn: the real
   * file reader over gzipped and plain JSON lines and a truncated gzip (CSV and
   * JSON arrays share its code path and are covered above: their parsers cost
   * too much for 1,000 runs here), stopped by a consumer that throws mid-file,
   * by a stop request, by an early return, or read to the end; every 25th
   * job opens and closes a DuckDB file as a pipeline job does.
   */
  async function leakyJob(n: number, stop: StopSignal): Promise<ExitCode> {
    if (n % 25 === 0) {
      const db = await openDuckDB(path('warehouse.duckdb'), { memoryLimit: '64MB', tempDirectory: path('tmp') });
      try {
        await db.connection.run('CREATE TABLE IF NOT EXISTS fires AS SELECT 0 AS n');
        await db.connection.run(`INSERT INTO fires VALUES (${n})`);
      } finally {
        db.close();
      }
    }
    const mode = (['throw', 'stop', 'return', 'complete'] as const)[n % 4];
    const file = ['events.jsonl.gz', 'events.jsonl', 'truncated.jsonl.gz'][n % 3]!;
    for await (const _batch of readSourceFile(path(file), 1024 ** 2)) {
      if (mode === 'throw') throw new Error('the package failed');
      if (mode === 'stop') {
        stop.request('SIGTERM');
        stop.throwIfRequested();
      }
      if (mode === 'return') return EXIT.runFailed;
    }
    return EXIT.ok;
  }

  /**
   * 1,000 fires through the real Scheduler (node-cron, the job queue, the
   * schedule state), with fake timers so a second-level cron fires as fast as
   * the jobs finish. Why not 1,000 full pipeline runs: one in-process `aetl
   * run` costs 0.3-1 s on this machine (DuckDB open, migrations, reference
   * sync), so 1,000 would take minutes; the job above exercises what a
   * stopped or failed run leaves open (the file reader, DuckDB instances).
   */
  it('1,000 scheduled runs with failures injected: open descriptors and memory stay flat', async () => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
      now: Date.parse('2026-06-10T06:00:00Z'),
    });
    let fired = 0;
    let afterRun = () => {};
    const scheduler = new Scheduler({
      jobs: [{ name: 'leaky', cron: '* * * * * *', command: 'run', jitterMs: 0, catchUp: false }],
      timezone: 'UTC',
      heartbeatMs: 3_600_000,
      stopTimeoutMs: 1000,
      state: new ScheduleState(path('schedule.json')),
      logger: createLogger('silent'),
      runJob: async (_job, stop) => {
        try {
          return await leakyJob(fired++, stop);
        } finally {
          // Real (not faked): runs once the scheduler's own bookkeeping (microtasks) is done.
          setImmediate(afterRun);
        }
      },
    });
    const fire = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const done = new Promise<void>((resolve) => (afterRun = resolve));
        await vi.advanceTimersToNextTimerAsync();
        await done;
      }
    };
    try {
      await scheduler.start();
      await fire(40); // warm-up: DuckDB's and zlib's one-time allocations
      await sleep(50); // the warm-up's last closes
      const fdsBefore = openFds();
      const memoryBefore = memory();
      // Checked every 100 runs, so a leak fails at once rather than after minutes of slower runs;
      // the slack of 2 is for a descriptor a library may open once and keep (none did here).
      for (let round = 0; round < 10; round++) {
        await fire(100);
        expect(await settledFds(fdsBefore + 2), `open descriptors after ${fired} runs`).toBeLessThanOrEqual(
          fdsBefore + 2,
        );
      }
      await scheduler.stop();
      expect(fired).toBe(1040);
      // 1,000 leaked decoders or file streams would hold tens of MB (64 KiB read buffers each).
      expect(memory() - memoryBefore).toBeLessThan(10 * 1024 ** 2);
    } finally {
      vi.useRealTimers();
    }
  }, 120_000);
});
