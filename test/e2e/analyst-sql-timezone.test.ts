import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import { EventUniverse } from '../../src/simulator/generator.js';
import { aetl } from '../helpers/cli.js';
import { queryWith } from '../helpers/duckdb.js';
import { REPO, shippedReference, Workspace } from '../helpers/workspace.js';

const HOUR = 3_600_000;
/** 20:00Z–02:00Z: the range crosses midnight UTC, and every zone below puts a boundary on another local date. */
const FROM = Date.parse('2026-04-01T20:00:00Z');
const TO = FROM + 6 * HOUR;
const SPIKE_HOUR = FROM + 3 * HOUR;
/** Ahead of UTC, behind it (with DST), and a half-hour offset (local hours are not UTC hours). */
const ZONES = ['Asia/Tokyo', 'America/Los_Angeles', 'Asia/Kolkata'];
const QUERY_DIR = join(REPO, 'sql/duckdb/queries');
const QUERIES = readdirSync(QUERY_DIR).filter((name) => name.endsWith('.sql'));

describe('the shipped DuckDB SQL gives the same rows in any session time zone', () => {
  const ws = new Workspace();
  const params = { from: new Date(FROM).toISOString(), to: new Date(TO).toISOString(), user_id: 'user_003' };
  let lakeViews: string;

  beforeAll(async () => {
    const universe = new EventUniverse(
      simulatorSettingsFrom({ seed: 99, rate_per_minute: 2, unknown_member_rate: 0 }),
      shippedReference(),
    );
    // From a day before the range (the spike query's baseline) to after it.
    const lines = [...universe.eventsBetween(FROM - 26 * HOUR, TO + 2 * HOUR, Infinity)].map((e, i) => {
      const payload = { ...e.payload };
      // Half of one hour blocked: a spike the hourly query must report in every zone.
      if (e.tsMs >= SPIKE_HOUR && e.tsMs < SPIKE_HOUR + HOUR && i % 2 === 0) {
        payload.decision = 'user_id' in payload ? 'blocked' : 'block';
      }
      return JSON.stringify(payload);
    });
    mkdirSync(ws.path('in'));
    writeFileSync(ws.path('in', 'events.jsonl'), `${lines.join('\n')}\n`);
    const config = ws.writeConfig({
      source: { kind: 'files', files: ws.path('in', '*.jsonl') },
      checks: { anomalies: { enabled: false } },
    });
    const run = await aetl(['run', '--config', config]);
    expect(run.code, run.stderr).toBe(0);
    lakeViews = readFileSync(join(REPO, 'sql/duckdb/lake_views.sql'), 'utf8').replaceAll('data/lake', ws.lake);
  }, 120_000);
  afterAll(() => ws.remove());

  const inZone = (zone: string, setup = '') => `SET TimeZone = '${zone}';\n${setup}`;

  it('finds every shipped query (a new file is covered without editing this test)', () => {
    expect(QUERIES).toContain('audit_trail.sql');
    expect(QUERIES).toContain('daily_spend_by_team.sql');
    expect(QUERIES.length).toBeGreaterThanOrEqual(6);
  });

  describe.each(QUERIES)('%s', (name) => {
    const sql = () => readFileSync(join(QUERY_DIR, name), 'utf8');

    it('on the lake and on the warehouse: rows in UTC, the same rows in Tokyo, Los Angeles and Kolkata', async () => {
      const lakeUtc = await queryWith(':memory:', sql(), params, inZone('UTC', lakeViews));
      // Rows to compare: an empty answer in every zone would prove nothing.
      expect(lakeUtc.length, `${name} returns no rows in UTC`).toBeGreaterThan(0);
      expect(await queryWith(ws.warehouse, sql(), params)).toEqual(lakeUtc);
      for (const zone of ZONES) {
        expect(await queryWith(':memory:', sql(), params, inZone(zone, lakeViews)), `lake, ${zone}`).toEqual(lakeUtc);
        expect(await queryWith(ws.warehouse, sql(), params, inZone(zone)), `warehouse, ${zone}`).toEqual(lakeUtc);
      }
    });
  });

  it('the audit trail holds every event of the user in the range, across midnight UTC', async () => {
    const rows = await queryWith(ws.warehouse, readFileSync(join(QUERY_DIR, 'audit_trail.sql'), 'utf8'), params);
    const days = new Set(rows.map((r) => String(r.event_ts).slice(0, 10)));
    expect(days).toEqual(new Set(['2026-04-01', '2026-04-02']));
  });

  it('the hourly spike query reports the spike hour in UTC', async () => {
    const rows = await queryWith(
      ws.warehouse,
      readFileSync(join(QUERY_DIR, 'hourly_block_rate_spikes.sql'), 'utf8'),
      params,
      inZone('Asia/Kolkata'),
    );
    expect(rows.map((r) => new Date(`${String(r.hour).replace(' ', 'T')}:00`).getTime())).toContain(SPIKE_HOUR);
  });

  it('every view of the warehouse, whole: the same rows in every zone', async () => {
    const views = await queryWith(
      ws.warehouse,
      'SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1',
      {},
    );
    expect(views.map((v) => v.view_name)).toEqual(['v_fact_ai_event', 'v_governance_hourly']);
    for (const { view_name: view } of views) {
      const all = `SELECT * FROM ${String(view)} ORDER BY ALL`;
      const utc = await queryWith(ws.warehouse, all, {});
      expect(utc.length).toBeGreaterThan(0);
      for (const zone of ZONES)
        expect(await queryWith(ws.warehouse, all, {}, inZone(zone)), `${view}, ${zone}`).toEqual(utc);
    }
  });
});
