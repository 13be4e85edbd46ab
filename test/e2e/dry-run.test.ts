import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { query, tablesAsText } from '../helpers/duckdb.js';
import { Workspace } from '../helpers/workspace.js';

const FIRST = '2026-06-10T06:00:00Z';
const LATER = '2026-06-10T09:30:00Z';

/** Every file under a folder with the sha256 of its bytes. */
function fileHashes(dir: string): Record<string, string> {
  const hashes: Record<string, string> = {};
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) walk(path);
      else hashes[relative(dir, path)] = createHash('sha256').update(readFileSync(path)).digest('hex');
    }
  };
  if (existsSync(dir)) walk(dir);
  return hashes;
}

interface Report {
  checkpoint: string;
  inputs: { window: { from: string; to: string }; read: number; rejected: number }[];
  days: { day: string; events: number; new_events: number; policy_rows: number; rejects: number }[];
  rejects_by_reason: { field: string; reason: string; records: number }[];
}

describe('aetl run --dry-run', () => {
  const ws = new Workspace();
  let config: string;

  beforeAll(async () => {
    config = ws.writeConfig({
      source: { kind: 'simulator', simulator: { seed: 11, rate_per_minute: 4, bad_record_rate: 0.05 } },
      checks: { max_reject_rate: 0.5 },
    });
    const run = await aetl(['run', '--config', config], { AETL_NOW: FIRST });
    expect(run.code, run.stderr).toBe(0);
  }, 60_000);
  afterAll(() => ws.remove());

  it('reports what the next run would load, leaving the warehouse file, every table and the lake byte-identical', async () => {
    const before = {
      data: fileHashes(ws.path('data')),
      lake: fileHashes(ws.lake),
      tables: await tablesAsText(ws.warehouse),
    };
    expect(Object.keys(before.lake).length).toBeGreaterThan(0);

    const dry = await aetl(['run', '--dry-run', '--json', '--config', config], { AETL_NOW: LATER });
    expect(dry.code, dry.stderr).toBe(0);
    const report = JSON.parse(dry.stdout) as Report;
    expect(report.checkpoint).toBe('2026-06-10T05:58:00.000Z');
    expect(report.inputs.length).toBeGreaterThan(0);
    expect(report.inputs[0]!.window.from < report.checkpoint).toBe(true); // the lookback re-reads a little

    expect(fileHashes(ws.path('data'))).toEqual(before.data);
    expect(fileHashes(ws.lake)).toEqual(before.lake);
    expect(await tablesAsText(ws.warehouse)).toBe(before.tables);
    expect(existsSync(ws.path('staging', 'default-dry-run'))).toBe(false);

    const human = await aetl(['run', '--dry-run', '--config', config], { AETL_NOW: LATER });
    expect(human.stdout).toContain('nothing was written');
    expect(human.stdout).toMatch(/2026-06-10\s+\d+/);
    expect(fileHashes(ws.path('data'))).toEqual(before.data);

    // The real run at the same instant loads exactly what the dry run said would be new.
    const run = await aetl(['run', '--json', '--config', config], { AETL_NOW: LATER });
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { run_id: string; totals: { inserted: number; rejected: number } };
    const loaded = await query(
      ws.warehouse,
      `SELECT strftime(event_ts, '%Y-%m-%d') AS day, count(*)::INTEGER AS n FROM fact_ai_event
       WHERE run_id = '${summary.run_id}' GROUP BY 1 ORDER BY 1`,
    );
    expect(loaded).toEqual(report.days.filter((d) => d.new_events > 0).map((d) => ({ day: d.day, n: d.new_events })));
    const policies = await query(
      ws.warehouse,
      `SELECT count(*)::INTEGER AS n FROM fact_policy_evaluation WHERE run_id = '${summary.run_id}'`,
    );
    const newShare = report.days.reduce((s, d) => s + d.policy_rows, 0);
    expect(policies[0]!.n).toBeLessThanOrEqual(newShare); // re-read events' policy rows are not loaded again
    const reported = report.rejects_by_reason.reduce((s, r) => s + r.records, 0);
    expect(reported).toBe(report.inputs.reduce((s, i) => s + i.rejected, 0));
    expect(reported).toBeGreaterThan(0);
  });

  it('takes the run lock: a live holder fails it (exit 1), or with --skip-if-locked skips it (exit 0)', async () => {
    const lock = `${ws.warehouse}.lock`;
    const owner = {
      token: 't',
      pid: process.pid,
      host: hostname(),
      runId: 'r-live',
      command: 'run',
      acquiredAt: LATER,
    };
    writeFileSync(lock, JSON.stringify(owner));
    try {
      const held = await aetl(['run', '--dry-run', '--config', config], { AETL_NOW: LATER });
      expect(held.code).toBe(1);
      expect(held.stderr).toContain('another run holds the lock');
      const skipped = await aetl(['run', '--dry-run', '--skip-if-locked', '--config', config], { AETL_NOW: LATER });
      expect(skipped.code, skipped.stderr).toBe(0);
      expect(skipped.stdout).toContain('dry run skipped');
    } finally {
      rmSync(lock, { force: true });
    }
  });
});
