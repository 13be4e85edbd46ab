import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { aetl } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { shapeA } from '../helpers/events.js';
import { serveLocal, type LocalServer } from '../helpers/local-server.js';
import { Workspace } from '../helpers/workspace.js';

/**
 * What the Events API client itself guarantees (DESIGN.md decision 8 and the
 * source contract), against a stand-in on 127.0.0.1 that does not help it:
 * it returns its events for every page request whatever since/until say, so
 * only the client's own clip and retry behaviour are under test.
 */
const T = Date.parse('2026-05-01T12:00:00Z');
const MINUTE = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

const resources: { remove(): void }[] = [];
const servers: LocalServer[] = [];
afterEach(async () => {
  resources.splice(0).forEach((r) => r.remove());
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/**
 * Pages hold every event, unfiltered; `count=true` counts honestly in [since, until)
 * (so completeness passes). `intercept` may answer a request first (a fault).
 */
async function unfilteringSource(
  events: Record<string, unknown>[],
  intercept?: (req: IncomingMessage, res: ServerResponse) => boolean,
): Promise<string> {
  const server = await serveLocal((req, res) => {
    if (intercept?.(req, res)) return;
    const url = new URL(req.url!, 'http://127.0.0.1');
    const [since, until] = [Date.parse(url.searchParams.get('since')!), Date.parse(url.searchParams.get('until')!)];
    const body =
      url.searchParams.get('count') === 'true'
        ? {
            count: events.filter(
              (e) => Date.parse(String(e.timestamp)) >= since && Date.parse(String(e.timestamp)) < until,
            ).length,
          }
        : { data: events, next_cursor: null };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  servers.push(server);
  return server.url;
}

function apiConfig(url: string, window: Record<string, unknown>): { ws: Workspace; config: string } {
  const ws = new Workspace();
  resources.push(ws);
  const config = ws.writeConfig({
    source: { kind: 'events_api', url, token: 'test-token', max_retries: 3 },
    window: { settle_delay: '2m', ...window },
  });
  return { ws, config };
}

const windowRows = (file: string) =>
  query(
    file,
    `SELECT epoch_ms(w.window_start) AS start_ms, epoch_ms(w.window_end) AS end_ms, w.read::INTEGER AS read,
            w.inserted::INTEGER AS inserted, w.already_present::INTEGER AS present, w.out_of_window::INTEGER AS outside
     FROM etl_run_window w JOIN etl_run r USING (run_id) ORDER BY r.started_at, w.seq`,
  );

describe('Events API client', () => {
  it('an event stamped exactly at a window end is outside that window and loaded once by the next', async () => {
    const atEnd = { ...shapeA('at-end', 0), timestamp: iso(T) };
    const justBefore = { ...shapeA('just-before', 0), timestamp: iso(T - 1) };
    const url = await unfilteringSource([atEnd, justBefore]);
    const { ws, config } = apiConfig(url, { initial_start: iso(T - 60 * MINUTE), lookback: '10m', max_window: '1h' });

    // Signpost now − settle_delay = T: the first window is [T − 1h, T).
    const first = await aetl(['run', '--config', config], { AETL_NOW: iso(T + 2 * MINUTE) });
    expect(first.code, first.stderr).toBe(0);
    expect(await query(ws.warehouse, 'SELECT event_id FROM fact_ai_event')).toEqual([{ event_id: 'just-before' }]);

    // The next window starts a lookback before the checkpoint T: [T − 10m, T + 30m).
    const second = await aetl(['run', '--config', config], { AETL_NOW: iso(T + 32 * MINUTE) });
    expect(second.code, second.stderr).toBe(0);
    expect(await query(ws.warehouse, 'SELECT event_id FROM fact_ai_event ORDER BY 1')).toEqual([
      { event_id: 'at-end' },
      { event_id: 'just-before' },
    ]);
    expect(await windowRows(ws.warehouse)).toEqual([
      { start_ms: BigInt(T - 60 * MINUTE), end_ms: BigInt(T), read: 2, inserted: 1, present: 0, outside: 1 },
      {
        start_ms: BigInt(T - 10 * MINUTE),
        end_ms: BigInt(T + 30 * MINUTE),
        read: 2,
        inserted: 1,
        present: 1,
        outside: 0,
      },
    ]);
  });

  it('waits at least Retry-After (2 s) after a 429 before asking again', async () => {
    const arrivals: number[] = [];
    const url = await unfilteringSource([shapeA('after-429', 0, { timestamp: iso(T - 30 * MINUTE) })], (_, res) => {
      arrivals.push(performance.now());
      if (arrivals.length > 1) return false;
      res.writeHead(429, { 'retry-after': '2' }).end();
      return true;
    });
    const { ws, config } = apiConfig(url, { initial_start: iso(T - 60 * MINUTE) });
    const run = await aetl(['run', '--config', config], { AETL_NOW: iso(T + 2 * MINUTE) });
    expect(run.code, run.stderr).toBe(0);
    expect(arrivals.length).toBeGreaterThan(1);
    expect(arrivals[1]! - arrivals[0]!).toBeGreaterThanOrEqual(2000);
    expect(await query(ws.warehouse, 'SELECT event_id FROM fact_ai_event')).toEqual([{ event_id: 'after-429' }]);
  });
});
