import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { Workspace } from '../helpers/workspace.js';

describe('aetl init', () => {
  const ws = new Workspace();
  afterAll(() => ws.remove());

  it('scaffolds a commented config and reference CSVs that aetl run accepts unchanged, then refuses to overwrite', async () => {
    const dir = ws.path('new-pipeline');
    const init = await aetl(['init', dir]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain(`cd ${dir}`);
    expect(init.stdout).toMatch(/aetl run\n/);
    const config = readFileSync(join(dir, 'aetl.yaml'), 'utf8');
    expect(config).toMatch(/^# ai-event-etl pipeline config/);
    expect(config).toContain('# token: ${AETL_SOURCE_TOKEN}');

    // The next steps as printed: from the new folder, no flags (./aetl.yaml is found there).
    const run = await aetl(['run'], { AETL_NOW: '2026-06-10T06:00:00Z' }, 60_000, dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('"found_by":"the working folder"');
    const [facts] = await query(join(dir, 'data', 'warehouse.duckdb'), 'SELECT count(*) AS n FROM fact_ai_event');
    expect(Number(facts!.n)).toBeGreaterThan(1000);
    const [users] = await query(
      join(dir, 'data', 'warehouse.duckdb'),
      'SELECT count(*) AS n FROM dim_user WHERE NOT is_inferred',
    );
    expect(Number(users!.n)).toBeGreaterThan(5); // the reference CSV templates were read

    const again = await aetl(['init', dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('aetl init would overwrite');
  });
});
