import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import { EventUniverse } from '../../src/simulator/generator.js';
import { aetl } from '../helpers/cli.js';
import { query, queryWith } from '../helpers/duckdb.js';
import { lakeSnapshot, warehouseSnapshot } from '../helpers/snapshot.js';
import { shippedReference, Workspace } from '../helpers/workspace.js';

/** Lines past the point where a package turns to extract workers (20,000 records). */
const BROKEN_LINE = 26_001;
const CONFLICT_LINE = 28_001;

/**
 * ~30k simulated events with bad records; past the threshold a broken line,
 * a conflicting version of the first event, and an exact re-delivery of it.
 */
function inputLines(): { lines: string[]; ids: Set<string>; first: Record<string, unknown> } {
  const settings = simulatorSettingsFrom({ seed: 77, rate_per_minute: 1000, bad_record_rate: 0.01 });
  const universe = new EventUniverse(settings, shippedReference());
  const events = [];
  for (let minute = 29_000_000; events.length < 30_000; minute++) events.push(...universe.eventsInMinute(minute));
  const lines = events.map((e) => JSON.stringify(e.payload));
  const first = events.find((e) => e.valid)!;
  lines[BROKEN_LINE - 1] = '{"id": "broken-past-the-threshold", "timestamp": ';
  lines[CONFLICT_LINE - 1] = JSON.stringify({
    ...first.payload,
    output_tokens: 1 + Number(first.payload.output_tokens),
  });
  lines.push(JSON.stringify(first.payload));
  const replaced = new Set([BROKEN_LINE - 1, CONFLICT_LINE - 1]);
  const ids = new Set(events.filter((e, i) => e.valid && !replaced.has(i)).map((e) => e.id));
  return { lines, ids, first: first.payload };
}

describe('extract workers', () => {
  const inline = new Workspace();
  const threaded = new Workspace();
  const split = new Workspace();
  let ids: Set<string>;
  let lineCount: number;
  let first: Record<string, unknown>;

  beforeAll(async () => {
    const input = inputLines();
    ids = input.ids;
    lineCount = input.lines.length;
    first = input.first;
    for (const [w, workers, packageRecords] of [
      [inline, 0, 250_000],
      [threaded, 2, 250_000],
      [split, 2, 21_000],
    ] as const) {
      writeFileSync(w.path('events.jsonl'), input.lines.join('\n'));
      const config = w.writeConfig({
        source: { kind: 'files', files: w.path('events.jsonl') },
        staging: { workers, package_records: packageRecords },
        checks: { max_reject_rate: 0.05 },
      });
      const run = await aetl(['run', '--config', config]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toContain(`"extractWorkers":${workers}`);
    }
  }, 120_000);
  afterAll(() => [inline, threaded, split].forEach((w) => w.remove()));

  it('load every valid event once and quarantine the rest where they were read', async () => {
    const facts = await query(threaded.warehouse, 'SELECT event_id FROM fact_ai_event ORDER BY event_id');
    expect(facts.map((f) => f.event_id)).toEqual([...ids].sort());
    const broken = await query(
      threaded.warehouse,
      "SELECT source_ref FROM etl_rejected_event WHERE payload LIKE '%broken-past-the-threshold%'",
    );
    expect(broken).toEqual([{ source_ref: `line ${BROKEN_LINE}` }]);
    const counts = await query(threaded.warehouse, 'SELECT in_batch_duplicates, conflicts FROM etl_run_window');
    expect(counts).toEqual([{ in_batch_duplicates: 2n, conflicts: 1n }]);
  });

  it('give the same warehouse and lake as extraction on the main thread', async () => {
    // Both read their own copy of the input: compare with the workspace folder left out of the paths.
    const relative = async (w: Workspace) =>
      JSON.stringify(await warehouseSnapshot(w.warehouse)).replaceAll(w.dir, '.');
    expect(await relative(threaded)).toEqual(await relative(inline));
    expect(await lakeSnapshot(threaded.lake)).toEqual(await lakeSnapshot(inline.lake));
  });

  it('load a file larger than a package in several, and record it in the ledger once, with the last', async () => {
    const windows = await query(split.warehouse, 'SELECT read, conflicts FROM etl_run_window ORDER BY seq');
    expect(windows.map((w) => Number(w.read))).toEqual([21_000, lineCount - 21_000]);
    // The conflicting version comes after its first version has been loaded: first loaded wins.
    expect(Number(windows[0]!.conflicts)).toBe(0);
    expect(Number(windows[1]!.conflicts)).toBeGreaterThan(0);
    const kept = await queryWith(split.warehouse, 'SELECT output_tokens FROM fact_ai_event WHERE event_id = $id', {
      id: String(first.id),
    });
    expect(kept).toEqual([{ output_tokens: String(first.output_tokens) }]);
    const facts = await query(split.warehouse, 'SELECT event_id FROM fact_ai_event ORDER BY event_id');
    expect(facts.map((f) => f.event_id)).toEqual([...ids].sort());
    const ledger = await query(split.warehouse, 'SELECT path FROM etl_file_ledger');
    expect(ledger).toEqual([{ path: split.path('events.jsonl') }]);
    const rejects = (w: Workspace) =>
      query(w.warehouse, 'SELECT source_ref, reasons::VARCHAR FROM etl_rejected_event ORDER BY ALL');
    expect(await rejects(split)).toEqual(await rejects(inline));
  });

  it('a package that fails its checks ends the file there and keeps it out of the ledger, so it is retried', async () => {
    const w = new Workspace();
    try {
      const broken = Array.from({ length: 1000 }, (_, i) => `{"id": "broken-${i}", "timestamp": `);
      const good = inputLines().lines.slice(0, 2000);
      writeFileSync(w.path('events.jsonl'), [...broken, ...good].join('\n'));
      const config = w.writeConfig({
        source: { kind: 'files', files: w.path('events.jsonl') },
        staging: { workers: 0, package_records: 1000 },
        checks: { max_reject_rate: 0.5 },
      });
      for (let attempt = 0; attempt < 2; attempt++) {
        const run = await aetl(['run', '--config', config]);
        expect(run.code, run.stderr).toBe(1); // the reject rate breach fails the run
        expect(run.stderr).toContain('"new":1');
        expect(await query(w.warehouse, 'SELECT * FROM etl_file_ledger')).toEqual([]);
        expect(await query(w.warehouse, 'SELECT count(*) AS n FROM etl_run_window')).toEqual([
          { n: BigInt(attempt + 1) },
        ]);
      }
    } finally {
      w.remove();
    }
  }, 60_000);
});
