import { serveLocal, type LocalServer } from './local-server.js';

/**
 * A vendor's Events API whose data the test can change between commands (push
 * a late event, correct one): one page per window, the events whose timestamp
 * is in [since, until), and `count=true` honoured.
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
    res.end(JSON.stringify(url.searchParams.get('count') === 'true' ? { count: data.length } : { data }));
  });
}
