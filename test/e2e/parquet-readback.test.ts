import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_PRIVACY } from '../../src/contract/privacy.js';
import { PackageBuilder } from '../../src/pipeline/extract.js';
import { aetl } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { Workspace } from '../helpers/workspace.js';

async function readParquet(path: string) {
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file);
  const columns = Object.fromEntries(parquetSchema(metadata).children.map((c) => [c.element.name, c.element]));
  const rows = await parquetReadObjects({ file, compressors });
  const codecs = new Set(metadata.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data?.codec)));
  return { columns, rows, codecs };
}

const event = (id: string, second: number, cost: string) => ({
  id,
  timestamp: `2026-03-31T23:59:${String(second).padStart(2, '0')}.123456-01:00`,
  decision: 'block',
  user: 'user_003',
  gateway_id: 'gw_prod_eu',
  provider: 'anthropic',
  model: 'claude-sonnet-4',
  policies_evaluated: ['toxicity', 'prompt_injection'],
  policies_triggered: ['toxicity'],
  latency_ms: 250,
  input_tokens: 9_000_000_000,
  output_tokens: 0,
  cost,
});

const newBuilder = (dir: string) =>
  PackageBuilder.create(dir, { window: null, maxRecordBytes: 1024 ** 2, privacy: NO_PRIVACY, decisionAliases: {} });

const asRecords = (values: unknown[], batch: number) =>
  values.map((value, i) => ({
    kind: 'value' as const,
    value,
    location: { source: 'test', ref: `batch ${batch} item ${i + 1}` },
  }));

describe('Parquet read back by an independent reader (hyparquet)', () => {
  const ws = new Workspace();
  beforeAll(() => {
    const lines = [event('p-1', 1, '12345.678901'), event('p-2', 2, '0.000001')].map((e) => JSON.stringify(e));
    writeFileSync(ws.path('in.jsonl'), lines.join('\n'));
  });
  afterAll(() => ws.remove());

  it('staging files: snappy, TIMESTAMP adjusted to UTC, DECIMAL(18,6), INT64', async () => {
    const dir = ws.path('package');
    const builder = await newBuilder(dir);
    await builder.add(
      asRecords(
        readFileSync(ws.path('in.jsonl'), 'utf8')
          .split('\n')
          .map((line) => JSON.parse(line)),
        1,
      ),
    );
    const manifest = await builder.finish('run-1', null, []);
    expect(manifest.counts).toEqual({ read: 2, valid: 2, rejected: 0, outOfWindow: 0 });
    const { columns, rows, codecs } = await readParquet(join(dir, manifest.files.events[0]!));
    expect([...codecs]).toEqual(['SNAPPY']);
    expect(columns.event_ts!.logical_type).toMatchObject({ type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' });
    expect(columns.cost_usd!.logical_type).toMatchObject({ type: 'DECIMAL', precision: 18, scale: 6 });
    expect(columns.input_tokens!.type).toBe('INT64');
    const first = rows.find((r) => r.event_id === 'p-1')!;
    expect((first.event_ts as Date).toISOString()).toBe('2026-04-01T00:59:01.123Z');
    expect(first.date_key).toBe(20260401);
    expect(first.cost_usd).toBe(12345.678901);
    expect(first.input_tokens).toBe(9_000_000_000n);
    expect(first.policies_triggered_count).toBe(1);
    const policies = await readParquet(join(dir, manifest.files.policies[0]!));
    expect(
      policies.rows.filter((r) => r.event_id === 'p-1').map((r) => [r.policy_name, r.result, r.triggered]),
    ).toEqual([
      ['toxicity', 'triggered', true],
      ['prompt_injection', 'pass', false],
    ]);
  });

  it('a package of several parts (each written while the next batch is validated) holds every row once', async () => {
    const dir = ws.path('parts');
    const builder = await newBuilder(dir);
    // ~2.5M characters of metadata a batch: a part is written out after every second batch (4M).
    const big = { note: 'x'.repeat(250_000) };
    for (let b = 1; b <= 5; b++) {
      const events = Array.from({ length: 10 }, (_, i) => ({ ...event(`m-${b}-${i}`, i, '1.5'), metadata: big }));
      await builder.add(asRecords([...events, { id: `bad-${b}` }], b));
    }
    const manifest = await builder.finish('run-1', null, []);
    expect(manifest.counts).toEqual({ read: 55, valid: 50, rejected: 5, outOfWindow: 0 });
    expect(manifest.files.events).toHaveLength(3);
    const files = (kind: 'events' | 'policies' | 'rejects') =>
      `[${manifest.files[kind].map((f) => `'${join(dir, f)}'`).join(', ')}]`;
    const [counts] = await query(
      ':memory:',
      `SELECT (SELECT count(DISTINCT event_id) FROM read_parquet(${files('events')})) AS ids,
        (SELECT count(DISTINCT staged_row) FROM read_parquet(${files('events')})) AS staged_rows,
        (SELECT count(*) FROM read_parquet(${files('policies')}) p JOIN read_parquet(${files('events')}) e
           ON e.staged_row = p.staged_row AND e.event_id = p.event_id) AS policies_beside_their_event,
        (SELECT count(*) FROM read_parquet(${files('rejects')})) AS rejects`,
      true,
    );
    expect(counts).toEqual({ ids: 50n, staged_rows: 50n, policies_beside_their_event: 100n, rejects: 5n });
  });

  it('lake partitions: zstd, one file per package and event_date, equal to the warehouse', async () => {
    const config = ws.writeConfig({ source: { kind: 'files', files: ws.path('in.jsonl') } });
    const run = await aetl(['run', '--config', config]);
    expect(run.code, run.stderr).toBe(0);
    const partition = join(ws.lake, 'fact_ai_event/event_date=2026-04-01');
    const files = readdirSync(partition);
    expect(files).toHaveLength(1);
    const { columns, rows, codecs } = await readParquet(join(partition, files[0]!));
    expect([...codecs]).toEqual(['ZSTD']);
    expect(columns.event_ts!.logical_type).toMatchObject({ type: 'TIMESTAMP', isAdjustedToUTC: true });
    expect(columns.cost_usd!.logical_type).toMatchObject({ type: 'DECIMAL', precision: 18, scale: 6 });
    expect(columns.total_tokens!.type).toBe('INT64');
    const warehouse = await query(
      ws.warehouse,
      'SELECT event_id, user_key, cost_usd::DOUBLE AS cost, was_blocked FROM fact_ai_event ORDER BY event_id',
    );
    expect(
      rows.map((r) => ({ event_id: r.event_id, user_key: r.user_key, cost: r.cost_usd, was_blocked: r.was_blocked })),
    ).toEqual(warehouse.map((r) => ({ ...r })));
    const dims = await readParquet(join(ws.lake, 'dim_user/data.parquet'));
    expect(dims.rows.map((r) => r.user_id)).toContain('user_003');
  });
});
