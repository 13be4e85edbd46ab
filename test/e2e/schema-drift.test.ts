import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { Workspace } from '../helpers/workspace.js';
import { jsonLines, shapeA } from '../helpers/events.js';

/** A blocked event at 09:MM. */
const event = (id: string, minute: number, extra: Record<string, unknown> = {}) =>
  shapeA(id, minute, {
    timestamp: `2026-04-10T09:${String(minute).padStart(2, '0')}:00Z`,
    decision: 'blocked',
    ...extra,
  });

function writeEvents(file: string, events: object[]): void {
  writeFileSync(file, jsonLines(events));
}

interface Status {
  drift: { field: string; count: number; example_type: string; new: boolean }[];
}

interface Summary {
  exit_code: number;
  checks: { name: string; status: string; observed: number; message: string }[];
}

describe('schema drift: unknown source fields recorded once per field, with counts', () => {
  const ws = new Workspace();
  afterAll(() => ws.remove());
  const source = { kind: 'files', files: ws.path('in', '*.jsonl') };

  it('records a new field once with its count and type, shows it in status, and warns', async () => {
    const config = ws.writeConfig({ source });
    mkdirSync(ws.path('in'));
    writeEvents(ws.path('in', 'a.jsonl'), [
      event('d-1', 1, { region_hint: 'eu' }),
      event('d-2', 2),
      event('d-3', 3, { region_hint: 'us' }),
      event('d-4', 4, { region_hint: 'us' }),
    ]);
    const run = await aetl(['run', '--json', '--config', config]);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as Summary;
    const check = summary.checks.find((c) => c.name === 'schema_drift')!;
    expect(check).toMatchObject({ status: 'warn', observed: 1 });
    expect(check.message).toContain('region_hint (string, 3 records)');

    const rows = await query(
      ws.warehouse,
      'SELECT field_path, seen_count::INTEGER AS n, example_type, first_run_id = last_run_id AS one_run FROM etl_schema_drift',
    );
    expect(rows).toEqual([{ field_path: 'region_hint', n: 3, example_type: 'string', one_run: true }]);
    // Kept, not dropped: the value is in the event's metadata.
    const kept = await query(
      ws.warehouse,
      "SELECT metadata->>'$._extra_fields.region_hint' AS hint FROM fact_ai_event WHERE event_id = 'd-1'",
    );
    expect(kept).toEqual([{ hint: 'eu' }]);

    const status = await aetl(['status', '--json', '--config', config]);
    expect((JSON.parse(status.stdout) as Status).drift).toMatchObject([
      { field: 'region_hint', count: 3, example_type: 'string', new: true },
    ]);
    const human = await aetl(['status', '--config', config]);
    expect(human.stdout).toMatch(/region_hint\s+string\s+3\s.*NEW/);
  });

  it('counts a known field on, adds a new one, and fails the run at severity error', async () => {
    const config = ws.writeConfig({ source, checks: { schema_drift: { severity: 'error' } } });
    writeEvents(ws.path('in', 'b.jsonl'), [
      event('d-5', 5, { region_hint: 'eu', sla_tier: 2 }),
      event('d-6', 6, { sla_tier: 1 }),
    ]);
    const run = await aetl(['run', '--json', '--config', config]);
    expect(run.code).toBe(3);
    const check = (JSON.parse(run.stdout) as Summary).checks.find((c) => c.name === 'schema_drift')!;
    expect(check).toMatchObject({ status: 'fail', observed: 1 });
    expect(check.message).toContain('sla_tier (number, 2 records)');
    const rows = await query(
      ws.warehouse,
      'SELECT field_path, seen_count::INTEGER AS n, example_type FROM etl_schema_drift ORDER BY 1',
    );
    expect(rows).toEqual([
      { field_path: 'region_hint', n: 4, example_type: 'string' },
      { field_path: 'sla_tier', n: 2, example_type: 'number' },
    ]);

    // The same events read again (another file, a lookback, a re-run) are already loaded: counted once.
    writeEvents(ws.path('in', 'c.jsonl'), [event('d-5', 5, { region_hint: 'eu', sla_tier: 2 })]);
    const again = await aetl(['run', '--config', ws.writeConfig({ source })]);
    expect(again.code, again.stderr).toBe(0);
    expect(
      await query(ws.warehouse, 'SELECT field_path, seen_count::INTEGER AS n FROM etl_schema_drift ORDER BY 1'),
    ).toEqual([
      { field_path: 'region_hint', n: 4 },
      { field_path: 'sla_tier', n: 2 },
    ]);
  });
});
