import { serveLocal, type LocalServer } from './local-server.js';

/** One event as the vendor sends it, at `timestamp`, every field the contract reads; `extra` overrides. */
export function vendorEvent(id: string, timestamp: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    timestamp,
    decision: 'allowed',
    model: 'gpt-4o',
    provider: 'openai',
    input_tokens: 100,
    output_tokens: 50,
    policies_evaluated: [{ name: 'content_safety', result: 'pass' }],
    gateway_id: 'gw_prod_east',
    user_id: 'user_001',
    cost_usd: 0.001,
    ...extra,
  };
}

/**
 * A vendor's Events API whose data the test can change between commands (push
 * a late event, correct one): the events whose timestamp is in [since, until),
 * `limit` to a page with the offset of the next one as its cursor, and
 * `count=true` honoured.
 */
export function vendorApi(events: Record<string, unknown>[]): Promise<LocalServer> {
  return serveLocal((req, res) => {
    const url = new URL(req.url!, 'http://127.0.0.1');
    const since = Date.parse(url.searchParams.get('since')!);
    const until = Date.parse(url.searchParams.get('until')!);
    const data = events.filter(
      (e) => Date.parse(String(e.timestamp)) >= since && Date.parse(String(e.timestamp)) < until,
    );
    res.setHeader('content-type', 'application/json');
    if (url.searchParams.get('count') === 'true') {
      res.end(JSON.stringify({ count: data.length }));
      return;
    }
    const offset = Number(url.searchParams.get('cursor') ?? 0);
    const end = offset + Number(url.searchParams.get('limit') ?? data.length);
    res.end(JSON.stringify({ data: data.slice(offset, end), next_cursor: end < data.length ? String(end) : null }));
  });
}
