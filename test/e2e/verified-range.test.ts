import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { jsonLines, shapeA } from '../helpers/events.js';
import { Workspace } from '../helpers/workspace.js';

interface Result {
  name: string;
  observed: number | null;
}

/**
 * The whole-range comparison of verified hours (check-sql.ts `verifiedRangeSql`) sums the range's
 * rows, load times and hours: rows of one run share their loaded_at, so a row doubled in one hour and
 * one lost in another keep the count and the load times, and only the hours tell.
 */
describe('verified hours: a row doubled in one hour and one lost in another', () => {
  const ws = new Workspace();
  afterAll(() => ws.remove());

  it('are found by the next check without --full (load times with microseconds verify too)', async () => {
    const hours = [8, 9, 10, 11, 12, 13];
    const events = hours.flatMap((h) =>
      [0, 1].map((k) => shapeA(`r-${h}-${k}`, k, { timestamp: `2026-04-10T${String(h).padStart(2, '0')}:1${k}:00Z` })),
    );
    writeFileSync(ws.path('events.jsonl'), jsonLines(events));
    const config = ws.writeConfig({
      source: { kind: 'files', files: ws.path('events.jsonl') },
      checks: { freshness: { enabled: false }, anomalies: { enabled: false } },
    });
    const env = { AETL_NOW: '2026-04-11T00:00:00Z' };
    expect((await aetl(['run', '--config', config], env)).code).toBe(0);
    // Load times with microseconds (a warehouse filled by other tools): records keep milliseconds.
    await query(ws.warehouse, 'UPDATE fact_ai_event SET loaded_at = loaded_at + INTERVAL 7 MICROSECOND', true);
    const check = async () => {
      const out = await aetl(
        ['check', '--from', '2026-04-10', '--to', '2026-04-11', '--json', '--config', config],
        env,
      );
      const checks = (JSON.parse(out.stdout) as { checks: Result[] }).checks;
      const named = (name: string) => checks.find((c) => c.name === name)!.observed;
      return { duplicates: named('duplicates'), skipped: named('verified_hours') };
    };
    // The run's own checks verified every hour; microseconds more in their load times change nothing.
    expect(await check()).toEqual({ duplicates: 0, skipped: hours.length });
    for (const table of ['fact_ai_event', 'fact_policy_evaluation']) {
      await query(ws.warehouse, `INSERT INTO ${table} SELECT * FROM ${table} WHERE event_id = 'r-9-0'`, true);
      await query(ws.warehouse, `DELETE FROM ${table} WHERE event_id = 'r-12-1'`, true);
    }
    // Hours 9 and 12 are read again (one span, 10 and 11 with them); 8 and 13 are not.
    expect(await check()).toEqual({ duplicates: 2, skipped: 2 });
  });
});
