import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { query, scalar } from '../helpers/duckdb.js';
import { Workspace } from '../helpers/workspace.js';

const NOW = '2026-05-01T12:00:00.000Z';
const LATER = '2026-05-01T12:20:00.000Z';
const simulator = { seed: 11, rate_per_minute: 3, bad_record_rate: 0.003 };

/**
 * What a DuckDB pipeline's run ledger and status say after runs (what the runs
 * load, on every engine, is in incremental-engines.test.ts).
 */
describe('simulator → aetl run → DuckDB', () => {
  const ws = new Workspace();
  let config: string;

  beforeAll(async () => {
    config = ws.writeConfig({ source: { kind: 'simulator', simulator } });
    for (const now of [NOW, LATER]) {
      const run = await aetl(['run', '--config', config], { AETL_NOW: now });
      expect(run.code, run.stderr).toBe(0);
    }
  });
  afterAll(() => ws.remove());

  it('a run at the same instant as the last adds nothing', async () => {
    const before = await scalar(ws.warehouse, 'SELECT count(*)::INTEGER FROM fact_ai_event');
    const again = await aetl(['run', '--config', config], { AETL_NOW: LATER });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('nothing new to load');
    expect(await scalar(ws.warehouse, 'SELECT count(*)::INTEGER FROM fact_ai_event')).toBe(before);
  });

  it('status --json reports checkpoint and lag, runs with durations, row counts, rejects by field, lake size', async () => {
    const status = await aetl(['status', '--json', '--config', config], { AETL_NOW: '2026-05-01T12:30:00.000Z' });
    expect(status.code).toBe(0);
    const report = JSON.parse(status.stdout) as {
      checkpoint: string;
      lag_seconds: number;
      lake_bytes: number;
      runs: { status: string; duration_s: number; read: number; rejected: number }[];
      tables: Record<string, number>;
      rejects: number;
      rejects_by_field: { field: string; rejects: number; example: string }[];
    };
    expect(report.checkpoint).toBe('2026-05-01T12:18:00.000Z');
    expect(report.lag_seconds).toBe(12 * 60);
    expect(report.runs).toHaveLength(3);
    for (const run of report.runs) {
      expect(run.status).toBe('succeeded');
      expect(run.duration_s).toBeGreaterThanOrEqual(0);
    }
    expect(report.tables.fact_ai_event).toBe(await scalar(ws.warehouse, 'SELECT count(*)::INTEGER FROM fact_ai_event'));
    // Every quarantined record is under one field, each with an example reason.
    expect(report.rejects).toBe(await scalar(ws.warehouse, 'SELECT count(*)::INTEGER FROM etl_rejected_event'));
    expect(report.rejects_by_field.reduce((sum, f) => sum + f.rejects, 0)).toBe(report.rejects);
    for (const f of report.rejects_by_field) expect(f.example.length, f.field).toBeGreaterThan(0);
    expect(report.lake_bytes).toBeGreaterThan(10_000);
    const human = await aetl(['status', '--config', config], { AETL_NOW: '2026-05-01T12:30:00.000Z' });
    expect(human.stdout).toContain('(12.0 min behind now)');
    expect(human.stdout).toContain('rejects by field');
  });

  it("runs show prints one run's whole record; an unknown run is exit 2", async () => {
    const [latest] = await query(ws.warehouse, 'SELECT run_id FROM etl_run ORDER BY started_at LIMIT 1');
    const runId = String(latest!.run_id);
    const shown = await aetl(['runs', 'show', runId, '--json', '--config', config]);
    expect(shown.code, shown.stderr).toBe(0);
    const detail = JSON.parse(shown.stdout) as {
      run: Record<string, unknown> & { run_id: string; status: string; started_at: string };
      windows: { read: number; inserted: number; checks_passed: boolean; extract_ms: number; load_ms: number }[];
      checks: { check_name: string; status: string }[];
      rejects_by_field: { rejects: number }[];
    };
    expect(detail.run).toMatchObject({ run_id: runId, status: 'succeeded' });
    const [sums] = await query(
      ws.warehouse,
      `SELECT count(*) AS windows, sum(read) AS read, sum(inserted) AS inserted FROM etl_run_window WHERE run_id = '${runId}'`,
    );
    expect(detail.windows).toHaveLength(Number(sums!.windows));
    expect(detail.windows.reduce((s, w) => s + w.read, 0)).toBe(Number(sums!.read));
    expect(detail.windows.every((w) => w.checks_passed)).toBe(true);
    // Every stage's busy time is recorded, for the run and for each window.
    for (const stage of ['extract', 'stage', 'load', 'checks', 'lake'])
      expect(detail.run[`${stage}_ms`], stage).toEqual(expect.any(Number));
    expect(detail.windows.every((w) => w.extract_ms > 0 && w.load_ms > 0)).toBe(true);
    const [windowMs] = await query(
      ws.warehouse,
      `SELECT sum(extract_ms) AS ms FROM etl_run_window WHERE run_id = '${runId}'`,
    );
    expect(detail.run.extract_ms).toBe(Number(windowMs!.ms));
    expect(detail.checks.map((c) => c.check_name)).toEqual(expect.arrayContaining(['completeness', 'duplicates']));
    const [rejects] = await query(
      ws.warehouse,
      `SELECT count(*) AS n FROM etl_rejected_event WHERE run_id = '${runId}'`,
    );
    expect(detail.rejects_by_field.reduce((s, f) => s + f.rejects, 0)).toBe(Number(rejects!.n));
    const human = await aetl(['runs', 'show', runId, '--config', config]);
    expect(human.stdout).toContain(`run      ${runId}  run  SUCCEEDED`);
    expect(human.stdout).toMatch(
      /stages {3}extract \d+\.\d s {2}stage \d+\.\d s {2}load \d+\.\d s {2}checks \d+\.\d s {2}lake \d+\.\d s/,
    );
    const unknown = await aetl(['runs', 'show', 'no-such-run', '--config', config]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no run no-such-run in pipeline default');
  });
});
