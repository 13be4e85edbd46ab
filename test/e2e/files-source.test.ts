import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { query, queryWith, scalar } from '../helpers/duckdb.js';
import { Workspace } from '../helpers/workspace.js';
import { shapeA } from '../helpers/events.js';

const ws: Workspace[] = [];
function workspace(): Workspace {
  const w = new Workspace();
  ws.push(w);
  return w;
}
afterEach(() => ws.splice(0).forEach((w) => w.remove()));

describe('files source', () => {
  it('loads valid lines and quarantines each bad one with the field and line', async () => {
    const w = workspace();
    const lines = [
      JSON.stringify(shapeA('evt-1', 1)),
      JSON.stringify(shapeA('evt-2', 2)),
      '{"id": "evt-broken", "timestamp": ',
      JSON.stringify(shapeA('evt-3', 3, { input_tokens: -5 })),
      JSON.stringify(shapeA('evt-4', 4, { decision: 'maybe' })),
      JSON.stringify({ ...shapeA('evt-5', 5), id: undefined }),
      JSON.stringify(shapeA('evt-6', 6)),
      '',
      JSON.stringify(shapeA('evt-7', 7)),
    ];
    writeFileSync(w.path('events.jsonl'), lines.join('\n'));
    const config = w.writeConfig({
      source: { kind: 'files', files: w.path('events.jsonl') },
      checks: { max_reject_rate: 0.5 },
    });
    const run = await aetl(['run', '--config', config]);
    expect(run.code, run.stderr).toBe(0);

    const ids = (await query(w.warehouse, 'SELECT event_id FROM fact_ai_event ORDER BY 1')).map((r) => r.event_id);
    expect(ids).toEqual(['evt-1', 'evt-2', 'evt-6', 'evt-7']);
    const rejects = await query(
      w.warehouse,
      'SELECT source_ref, event_id, reasons::VARCHAR AS reasons, source_location FROM etl_rejected_event ORDER BY source_ref',
    );
    expect(rejects.map((r) => r.source_ref)).toEqual(['line 3', 'line 4', 'line 5', 'line 6']);
    expect(rejects.every((r) => r.source_location === w.path('events.jsonl'))).toBe(true);
    const reasons: Record<string, { path: string; message: string }[]> = Object.fromEntries(
      rejects.map((r) => [r.source_ref, JSON.parse(String(r.reasons)) as { path: string; message: string }[]]),
    );
    expect(reasons['line 3']![0]!.message).toMatch(/invalid JSON/);
    expect(reasons['line 4']!.map((r) => r.path)).toEqual(['input_tokens']);
    expect(reasons['line 5']!.map((r) => r.path)).toEqual(['decision']);
    expect(reasons['line 6']!.map((r) => r.path)).toEqual(['id']);
    expect(rejects.find((r) => r.source_ref === 'line 4')!.event_id).toBe('evt-3');

    const [window] = await query(
      w.warehouse,
      'SELECT read::INTEGER AS read, inserted::INTEGER AS inserted, rejected::INTEGER AS rejected FROM etl_run_window',
    );
    expect(window).toEqual({ read: 8, inserted: 4, rejected: 4 });

    // The ledger makes the file load once; rejects are keyed by location and payload, so none are added.
    const again = await aetl(['run', '--config', config]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('nothing new to load');
    expect(await scalar(w.warehouse, 'SELECT count(*)::INTEGER FROM etl_rejected_event')).toBe(4);
  });

  it('loads one event given in shape A and shape B as the same canonical row', async () => {
    const w = workspace();
    const a = shapeA('evt-same', 9, {
      decision: 'redacted',
      policies_evaluated: [
        { name: 'content_safety', result: 'pass', latency_ms: 4 },
        { name: 'pii_detection', result: 'redacted', latency_ms: 8, entities_found: 2 },
      ],
      latency_ms: 120,
    });
    const b = {
      id: 'evt-same',
      timestamp: '2026-04-10T10:09:00+02:00',
      gateway_id: 'gw_prod_east',
      user: 'user_001',
      provider: 'openai',
      model: 'gpt-4o',
      decision: 'redact',
      policies_evaluated: [
        { name: 'content_safety', result: 'pass', latency_ms: 4 },
        { name: 'pii_detection', result: 'redact', latency_ms: 8, entities_found: 2 },
      ],
      policies_triggered: ['pii_detection'],
      latency_ms: 120,
      input_tokens: 109,
      output_tokens: 50,
      cost: '0.001200',
      metadata: {},
    };
    writeFileSync(w.path('a.jsonl'), JSON.stringify(a));
    writeFileSync(w.path('b.json.gz'), gzipSync(JSON.stringify([b])));
    const config = w.writeConfig({ source: { kind: 'files', files: w.path('*.{jsonl,json.gz}') } });
    const run = await aetl(['run', '--config', config]);
    expect(run.code, run.stderr).toBe(0);

    const facts = await query(
      w.warehouse,
      `SELECT event_id, event_ts::VARCHAR AS ts, decision, cost_usd::VARCHAR AS cost, policies_triggered_count AS triggered
       FROM fact_ai_event`,
    );
    expect(facts).toEqual([
      { event_id: 'evt-same', ts: '2026-04-10 08:09:00+00', decision: 'redact', cost: '0.001200', triggered: 1 },
    ]);
    const windows = await query(
      w.warehouse,
      'SELECT inserted::INTEGER AS inserted, already_present::INTEGER AS present, conflicts::INTEGER AS conflicts FROM etl_run_window ORDER BY seq',
    );
    // Same id and same event_hash: the second file's copy is a duplicate, not a conflict.
    expect(windows).toEqual([
      { inserted: 1, present: 0, conflicts: 0 },
      { inserted: 0, present: 1, conflicts: 0 },
    ]);
    expect(await scalar(w.warehouse, 'SELECT count(*)::INTEGER FROM fact_policy_evaluation')).toBe(2);
  });

  it('fails the run with exit 1 when the reject rate passes the limit, after saving the rejects', async () => {
    const w = workspace();
    const lines = [
      JSON.stringify(shapeA('ok-1', 1)),
      'not json',
      JSON.stringify(shapeA('bad', 2, { cost_usd: 'abc' })),
    ];
    writeFileSync(w.path('events.jsonl'), lines.join('\n'));
    const config = w.writeConfig({ source: { kind: 'files', files: w.path('events.jsonl') } });
    const run = await aetl(['run', '--config', config]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/reject rate too high: 2 of 3 records rejected/);
    expect(await scalar(w.warehouse, 'SELECT count(*)::INTEGER FROM etl_rejected_event')).toBe(2);
    expect(await scalar(w.warehouse, 'SELECT count(*)::INTEGER FROM fact_ai_event')).toBe(1);
    // The ledger did not move: the file is read again next time (and adds no duplicate).
    expect(await scalar(w.warehouse, 'SELECT count(*)::INTEGER FROM etl_file_ledger')).toBe(0);
    const again = await aetl(['run', '--config', config]);
    expect(again.code).toBe(1);
    expect(await scalar(w.warehouse, 'SELECT count(*)::INTEGER FROM fact_ai_event')).toBe(1);
    expect(await scalar(w.warehouse, 'SELECT count(*)::INTEGER FROM etl_rejected_event')).toBe(2);
  });

  it('reads CSV exports with either shape’s columns and rejects a row of the wrong width by line', async () => {
    const w = workspace();
    const csv = [
      'id,timestamp,decision,model,provider,input_tokens,output_tokens,policies_evaluated,gateway_id,user_id,cost_usd',
      'c-1,2026-04-10T08:00:00Z,blocked,gpt-4o,openai,10,0,"[{""name"":""toxicity"",""result"":""block""}]",gw_prod_east,user_002,0.000025',
      'c-2,2026-04-10T08:01:00Z,allowed,gpt-4o,openai,10,5,,gw_prod_east,,0.00005',
      'c-3,2026-04-10T08:02:00Z,allowed,gpt-4o',
    ].join('\r\n');
    writeFileSync(w.path('export.csv'), csv);
    const config = w.writeConfig({
      source: { kind: 'files', files: w.path('export.csv') },
      checks: { max_reject_rate: 0.5 },
    });
    const run = await aetl(['run', '--config', config]);
    expect(run.code, run.stderr).toBe(0);
    const facts = await query(
      w.warehouse,
      `SELECT f.event_id, f.was_blocked, f.policies_triggered_count AS t, u.user_id FROM fact_ai_event f
       JOIN dim_user u USING (user_key) ORDER BY 1`,
    );
    expect(facts).toEqual([
      { event_id: 'c-1', was_blocked: true, t: 1, user_id: 'user_002' },
      { event_id: 'c-2', was_blocked: false, t: 0, user_id: '(unknown)' },
    ]);
    const [reject] = await query(w.warehouse, 'SELECT source_ref, reasons::VARCHAR AS reasons FROM etl_rejected_event');
    expect(reject!.source_ref).toBe('line 4');
    expect(String(reject!.reasons)).toContain('4 columns, the header has 11');
  });

  it('an unreadable file is named, kept out of the ledger and does not hold up the others; young files wait', async () => {
    const w = workspace();
    mkdirSync(w.path('inbox'));
    writeFileSync(w.path('inbox', 'a-good.jsonl'), JSON.stringify(shapeA('g-1', 1)));
    writeFileSync(w.path('inbox', 'b-truncated.jsonl.gz'), gzipSync(JSON.stringify(shapeA('t-1', 2))).subarray(0, 20));
    writeFileSync(w.path('inbox', 'c-good.jsonl'), JSON.stringify(shapeA('g-2', 3)));
    writeFileSync(w.path('inbox', 'd-young.jsonl'), JSON.stringify(shapeA('y-1', 4)));
    const old = new Date(Date.now() - 3_600_000);
    for (const name of ['a-good.jsonl', 'b-truncated.jsonl.gz', 'c-good.jsonl'])
      utimesSync(w.path('inbox', name), old, old);
    const config = w.writeConfig({ source: { kind: 'files', files: w.path('inbox'), min_file_age: '10m' } });
    const run = await aetl(['run', '--config', config]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/1 file\(s\) could not be read: .*b-truncated\.jsonl\.gz: cannot be read to its end/);
    expect((await query(w.warehouse, 'SELECT event_id FROM fact_ai_event ORDER BY 1')).map((r) => r.event_id)).toEqual([
      'g-1',
      'g-2',
    ]);
    const ledger = (await query(w.warehouse, 'SELECT path FROM etl_file_ledger ORDER BY 1')).map((r) =>
      String(r.path).split('/').pop(),
    );
    expect(ledger).toEqual(['a-good.jsonl', 'c-good.jsonl']);
  });

  it('a later version of an event with a moved timestamp is a conflict, not a second row', async () => {
    const w = workspace();
    mkdirSync(w.path('in'));
    writeFileSync(w.path('in', 'a.jsonl'), JSON.stringify(shapeA('moved', 1)));
    const config = w.writeConfig({ source: { kind: 'files', files: w.path('in') } });
    expect((await aetl(['run', '--config', config])).code).toBe(0);
    const later = { ...shapeA('moved', 1), timestamp: '2026-04-12T09:00:00Z', output_tokens: 99 };
    writeFileSync(w.path('in', 'b.jsonl'), JSON.stringify(later));
    const run = await aetl(['run', '--config', config]);
    expect(run.code, run.stderr).toBe(0);
    expect(await query(w.warehouse, 'SELECT event_id, output_tokens FROM fact_ai_event')).toEqual([
      { event_id: 'moved', output_tokens: 50n },
    ]);
    expect(await scalar(w.warehouse, "SELECT count(*)::INTEGER FROM etl_conflict WHERE event_id = 'moved'")).toBe(1);
  });

  it('pipelines sharing a warehouse keep each of their lakes complete', async () => {
    const w = workspace();
    mkdirSync(w.path('in-a'));
    mkdirSync(w.path('in-b'));
    writeFileSync(w.path('in-a', 'a.jsonl'), JSON.stringify(shapeA('from-a', 1)));
    writeFileSync(w.path('in-b', 'b.jsonl'), JSON.stringify(shapeA('from-b', 2)));
    const a = w.writeConfig(
      { pipeline: { name: 'a' }, source: { kind: 'files', files: w.path('in-a') }, lake: { path: 'lake-a' } },
      'a.yaml',
    );
    const b = w.writeConfig(
      { pipeline: { name: 'b' }, source: { kind: 'files', files: w.path('in-b') }, lake: { path: 'lake-b' } },
      'b.yaml',
    );
    expect((await aetl(['run', '--config', a])).code).toBe(0);
    expect((await aetl(['run', '--config', b])).code).toBe(0);
    expect((await aetl(['run', '--config', a])).code).toBe(0); // publishes what b changed in a's lake
    for (const lake of ['lake-a', 'lake-b']) {
      const ids = await queryWith(
        ':memory:',
        `SELECT event_id FROM read_parquet('${w.path(lake)}/fact_ai_event/*/*.parquet') ORDER BY 1`,
        {},
      );
      expect(
        ids.map((r) => r.event_id),
        lake,
      ).toEqual(['from-a', 'from-b']);
    }
  });
});
