import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { ENGINES, type EngineUnderTest } from '../helpers/engines.js';
import type { LocalServer } from '../helpers/local-server.js';
import { plain } from '../helpers/remote-e2e.js';
import { vendorApi, vendorEvent } from '../helpers/vendor-api.js';
import { Workspace } from '../helpers/workspace.js';

const DAY = '2026-04-10';
const HOURS = [8, 9, 10, 11, 12, 13];
const FORGOTTEN = 'user_forget_me';

const event = (id: string, hour: number, extra: Record<string, unknown> = {}) =>
  vendorEvent(id, `${DAY}T${String(hour).padStart(2, '0')}:${id.endsWith('-0') ? '10' : '40'}:00Z`, extra);

interface Result {
  name: string;
  status: string;
  observed: number | null;
  message: string;
}

/**
 * Incremental verification on every engine: `aetl check` reads again only the hours whose facts
 * changed since their checks passed. A duplicate planted by hand keeps its hour's count and load
 * times, so the check trusts the hour until one of our write paths changes it (then the duplicate is
 * found) or `--full` reads everything; a failing hour is never recorded, so it keeps failing.
 */
describe.each(ENGINES)('verified hours on $name', ({ start }) => {
  const ws = new Workspace();
  let engine: EngineUnderTest;
  let api: LocalServer;
  let config: string;
  const events = HOURS.flatMap((h) => [0, 1].map((k) => event(`v-${h}-${k}`, h)));
  events.push(event('v-10-2', 10), event('v-11-2', 11, { user_id: FORGOTTEN }));

  /**
   * A command at `now` (each load's own: a replaced row's loaded_at is a later one); exit 0 unless
   * `anyCode` (a load's own checks find the planted duplicates, which exits 3).
   */
  const cli = async (args: string[], now = '2026-04-11T00:00:00Z', anyCode = false) => {
    const result = await aetl([...args, '--json', '--config', config], { ...engine.env, AETL_NOW: now }, 90_000);
    if (!anyCode) expect(result.code, result.stderr.slice(-2000)).toBe(0);
    return JSON.parse(result.stdout) as { checks?: Result[] };
  };
  /** `aetl check` over the day: the duplicates it found and the hours it did not read again. */
  const check = async (...extra: string[]) => {
    // A failing check exits 3, a missing event (the one forgotten) fails completeness.
    const out = await cli(['check', '--from', DAY, '--to', '2026-04-11', ...extra], undefined, true);
    const named = (name: string) => out.checks!.find((c) => c.name === name)!;
    return { duplicates: named('duplicates').observed, skipped: named('verified_hours').observed };
  };
  /**
   * A duplicate no fingerprint sees: one event of the hour takes the id of the other, its fact and its
   * policy row (count and times kept): 2 duplicate rows.
   */
  const plant = async (hour: number) => {
    for (const table of ['fact_ai_event', 'fact_policy_evaluation'])
      await engine.rows(`UPDATE {s}${table} SET event_id = 'v-${hour}-0' WHERE event_id = 'v-${hour}-1'`);
  };

  beforeAll(async () => {
    engine = await start(ws);
    api = await vendorApi(events);
    config = ws.writeConfig({
      source: { kind: 'events_api', url: api.url, token: 'test-token' },
      window: { initial_start: `${DAY}T00:00:00Z` },
      warehouse: engine.warehouse,
      checks: { freshness: { enabled: false }, anomalies: { enabled: false }, duplicates: { severity: 'warn' } },
    });
    await cli(['run']);
  }, 120_000);
  afterAll(async () => {
    await api.close();
    await engine.close();
    ws.remove();
  });

  it('the run verified its whole hours: a check reads none again, and trusts a duplicate planted by hand', async () => {
    expect(await check()).toEqual({ duplicates: 0, skipped: HOURS.length });
    for (const hour of [9, 10, 11, 12, 13]) await plant(hour);
    expect(await check()).toEqual({ duplicates: 0, skipped: HOURS.length });
  });

  it('a load into a verified hour has it read again: its duplicate is found, and stays found', async () => {
    events.push(event('v-9-late', 9));
    await cli(['backfill', '--from', `${DAY}T09:00:00Z`, '--to', `${DAY}T10:00:00Z`], undefined, true);
    expect(await check()).toEqual({ duplicates: 2, skipped: HOURS.length - 1 });
    expect(await check()).toEqual({ duplicates: 2, skipped: HOURS.length - 1 });
  });

  it('replay --force-update, forget and reconcile each change their hour: each duplicate is found', async () => {
    // The vendor corrected an event: its row is replaced by one as many, loaded later.
    events[events.findIndex((e) => e.id === 'v-10-2')] = event('v-10-2', 10, { cost_usd: 0.25 });
    const range = ['--from', `${DAY}T10:00:00Z`, '--to', `${DAY}T11:00:00Z`];
    await cli(['replay', ...range, '--force-update'], '2026-04-11T01:00:00Z', true);
    // Hours 9 and 10 are read again (one span), the rest were not.
    expect(await check()).toEqual({ duplicates: 4, skipped: HOURS.length - 2 });
    // The erasure also drops the user's dimension rows: every hour's orphans are probed again.
    await cli(['forget', '--user', FORGOTTEN, '--yes']);
    expect(await check()).toEqual({ duplicates: 6, skipped: 0 });
    expect(await check()).toEqual({ duplicates: 6, skipped: HOURS.length - 3 });
    events.push(event('v-12-late', 12));
    await cli(['reconcile', '--days', '2'], undefined, true);
    expect(await check()).toEqual({ duplicates: 8, skipped: HOURS.length - 4 });
  });

  it('rebuild-dims forgets every hour: the duplicate in the one it left verified is found', async () => {
    const recorded = async () => plain(await engine.rows('SELECT COUNT(*) AS n FROM {s}dq_verified_hour'))[0]!.n;
    expect(await recorded()).toBeGreaterThan(0);
    await cli(['rebuild-dims']);
    expect(await recorded()).toBe(0);
    expect(await check()).toEqual({ duplicates: 10, skipped: 0 });
  });

  it('a duplicate planted by hand in a verified hour is found by --full only, and then stays found', async () => {
    // Repaired by hand: the hours are read again and pass.
    for (const table of ['fact_ai_event', 'fact_policy_evaluation'])
      await engine.rows(`DELETE FROM {s}${table} WHERE event_id IN ('v-9-0', 'v-10-0', 'v-11-0', 'v-12-0', 'v-13-0')`);
    const hours = Number(
      plain(await engine.rows(`SELECT COUNT(DISTINCT date_trunc('hour', event_ts)) AS n FROM {s}fact_ai_event`))[0]!.n,
    );
    expect(await check()).toEqual({ duplicates: 0, skipped: 0 });
    expect(await check()).toEqual({ duplicates: 0, skipped: hours });
    await plant(8);
    expect(await check()).toEqual({ duplicates: 0, skipped: hours });
    expect(await check('--full')).toEqual({ duplicates: 2, skipped: 0 });
    expect(await check()).toEqual({ duplicates: 2, skipped: 0 });
  });

  it('an hour written to while its checks ran is recorded with what they read: the next check reads it again', async () => {
    // Repaired by hand, then read whole (--full); a fact is stored twice after the checks read the
    // range and before the hours are recorded, as a load of another pipeline could.
    for (const table of ['fact_ai_event', 'fact_policy_evaluation'])
      await engine.rows(`DELETE FROM {s}${table} WHERE event_id = 'v-8-0'`);
    const out = await aetl(
      ['check', '--from', DAY, '--to', '2026-04-11', '--full', '--json', '--config', config],
      { ...engine.env, AETL_NOW: '2026-04-11T00:00:00Z', AETL_FAULT: 'check:write-before-record' },
      90_000,
    );
    const duplicates = (JSON.parse(out.stdout) as { checks: Result[] }).checks.find((c) => c.name === 'duplicates')!;
    expect(duplicates.observed).toBe(0);
    const hours = Number(
      plain(await engine.rows(`SELECT COUNT(DISTINCT date_trunc('hour', event_ts)) AS n FROM {s}fact_ai_event`))[0]!.n,
    );
    // The copy is the fact's alone (its policy row was not copied): 1 duplicate row.
    expect(await check()).toEqual({ duplicates: 1, skipped: hours - 1 });
  });

  it('a new dimension version alone has every hour probed for orphans, not read again, then renewed', async () => {
    // Repaired by hand: the copied id goes with its policy row; its hour, if any is left, passes.
    const [copied] = plain(
      await engine.rows('SELECT event_id FROM {s}fact_ai_event GROUP BY event_id HAVING COUNT(*) > 1'),
    );
    for (const table of ['fact_ai_event', 'fact_policy_evaluation'])
      await engine.rows(`DELETE FROM {s}${table} WHERE event_id = '${String(copied!.event_id)}'`);
    const hours = Number(
      plain(await engine.rows(`SELECT COUNT(DISTINCT date_trunc('hour', event_ts)) AS n FROM {s}fact_ai_event`))[0]!.n,
    );
    expect((await check()).duplicates).toBe(0);
    expect(await check()).toEqual({ duplicates: 0, skipped: hours });
    // A user first seen the day before: a new dim_user version, and no fact of this day changed.
    events.push(vendorEvent('v-prev', '2026-04-09T12:00:00Z', { user_id: 'user_new_version' }));
    await cli(['backfill', '--from', '2026-04-09', '--to', DAY]);
    expect(await check()).toEqual({ duplicates: 0, skipped: 0 });
    expect(await check()).toEqual({ duplicates: 0, skipped: hours });
  });
});
