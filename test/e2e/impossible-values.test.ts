import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aetl, type CliResult } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { jsonLines, shapeA } from '../helpers/events.js';
import { Workspace } from '../helpers/workspace.js';

/** The run's clock: the plausible range ends a day later, at 2026-04-13T00:00Z. */
const NOW = '2026-04-12T00:00:00Z';

/** Each record that once crashed a load (or was stored as another instant), and the field its reject must name. */
const IMPOSSIBLE: { id: string; extra: Record<string, unknown>; path: string; message: RegExp }[] = [
  {
    id: 'bad-entities',
    extra: { policies_evaluated: [{ name: 'pii_detection', result: 'redacted', entities_found: 3e9 }] },
    path: 'policies_evaluated.0.entities_found',
    message: /0\.\.2147483647 \(INTEGER column\), got 3000000000/,
  },
  {
    id: 'bad-year-1',
    extra: { timestamp: '0001-01-01T00:00:00Z' },
    path: 'timestamp',
    message: /^0001-01-01T.*plausible_range/,
  },
  { id: 'bad-year-9999', extra: { timestamp: '9999-12-31T00:00:00Z' }, path: 'timestamp', message: /plausible_range/ },
  { id: 'bad-future', extra: { timestamp: '2026-04-13T00:00:00Z' }, path: 'timestamp', message: /plausible_range/ },
  {
    id: 'bad-offset',
    extra: { timestamp: '2026-04-10T08:05:00+25:00' },
    path: 'timestamp',
    message: /offset "\+25:00"/,
  },
  { id: 'bad-feb-30', extra: { timestamp: '2026-02-30T08:00:00Z' }, path: 'timestamp', message: /calendar date/ },
  {
    id: 'bad-tokens',
    extra: { input_tokens: 2 ** 53 },
    path: 'input_tokens',
    message: /0\.\.9007199254740991 \(BIGINT column\)/,
  },
  {
    id: 'bad-total',
    extra: { input_tokens: 2 ** 52, output_tokens: 2 ** 52 },
    path: 'total_tokens',
    message: /input_tokens \+ output_tokens/,
  },
  { id: 'bad-cost', extra: { cost_usd: '1000000000000' }, path: 'cost_usd', message: /DECIMAL\(18,6\)/ },
];

describe('numbers beyond their column and impossible instants are rejects, not a failed load', () => {
  const ws = new Workspace();
  let run: CliResult;

  beforeAll(async () => {
    const lines = [
      shapeA('ok-1', 1),
      ...IMPOSSIBLE.map(({ id, extra }, i) => shapeA(id, 10 + i, extra)),
      // At the edges of their columns: these load.
      shapeA('ok-edges', 2, {
        input_tokens: 2 ** 53 - 51,
        output_tokens: 50,
        cost_usd: '999999999999.999999',
        policies_evaluated: [{ name: 'pii_detection', result: 'redacted', entities_found: 2 ** 31 - 1 }],
      }),
      // Three days earlier, with a possible offset: dim_date must cover the days between, no more.
      shapeA('ok-offset', 3, { timestamp: '2026-04-06T23:30:00-02:00' }),
    ];
    writeFileSync(ws.path('events.jsonl'), jsonLines(lines));
    const config = ws.writeConfig({
      source: { kind: 'files', files: ws.path('events.jsonl') },
      checks: { max_reject_rate: 0.8 },
    });
    run = await aetl(['run', '--config', config], { AETL_NOW: NOW });
  }, 120_000);
  afterAll(() => ws.remove());

  it('exits 0 and loads exactly the valid neighbours, edge values exact', async () => {
    expect(run.code, run.stderr).toBe(0);
    const facts = await query(
      ws.warehouse,
      'SELECT event_id, total_tokens::VARCHAR AS total, cost_usd::VARCHAR AS cost FROM fact_ai_event ORDER BY 1',
    );
    expect(facts.map((f) => f.event_id)).toEqual(['ok-1', 'ok-edges', 'ok-offset']);
    expect(facts[1]).toMatchObject({ total: String(2 ** 53 - 1), cost: '999999999999.999999' });
    const policies = await query(
      ws.warehouse,
      "SELECT entities_found FROM fact_policy_evaluation WHERE event_id = 'ok-edges'",
    );
    expect(policies).toEqual([{ entities_found: 2 ** 31 - 1 }]);
  });

  it('quarantines each impossible record with a reason naming its field and the allowed range', async () => {
    const rejects = await query(
      ws.warehouse,
      'SELECT event_id, reasons::VARCHAR AS reasons, event_ts FROM etl_rejected_event ORDER BY event_id',
    );
    expect(rejects.map((r) => r.event_id)).toEqual(IMPOSSIBLE.map((c) => c.id).sort());
    for (const { id, path, message } of IMPOSSIBLE) {
      const reasons = JSON.parse(String(rejects.find((r) => r.event_id === id)!.reasons)) as {
        path: string;
        message: string;
      }[];
      expect(
        reasons.map((r) => r.path),
        id,
      ).toEqual([path]);
      expect(reasons[0]!.message, id).toMatch(message);
    }
    // An implausible time is not kept as the reject's event time either (year 0001 is not 1901).
    const kept = rejects.filter((r) => r.event_ts !== null).map((r) => r.event_id);
    expect(kept).toEqual(['bad-cost', 'bad-entities', 'bad-tokens', 'bad-total']);
  });

  it('stores nothing before 2000, and dim_date spans exactly the loaded days', async () => {
    const [span] = await query(
      ws.warehouse,
      `SELECT (SELECT min(event_ts)::VARCHAR FROM fact_ai_event) AS first,
              (SELECT min(event_ts)::VARCHAR FROM etl_rejected_event) AS first_reject,
              (SELECT date_diff('day', min(event_ts)::DATE, max(event_ts)::DATE) + 1 FROM fact_ai_event) AS days,
              (SELECT count(*) FROM dim_date) AS dim_days,
              (SELECT min(date)::VARCHAR || '..' || max(date)::VARCHAR FROM dim_date) AS dim_span`,
    );
    expect(span).toEqual({
      first: '2026-04-07 01:30:00+00',
      first_reject: '2026-04-10 08:10:00+00',
      days: 4n,
      dim_days: 4n,
      dim_span: '2026-04-07..2026-04-10',
    });
  });
});
