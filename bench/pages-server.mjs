// A minimal Events API that serves pre-generated pages from a JSONL file, so the server's own
// CPU stays small while the pipeline is measured: node bench/pages-server.mjs <events.jsonl> <port-file>
import { createServer } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';

const [input, portFile] = process.argv.slice(2);
const lines = readFileSync(input, 'utf8').split('\n').filter(Boolean);
const times = lines.map((line) => Date.parse(JSON.parse(line).timestamp));
const PAGE = 5000;

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const since = Date.parse(url.searchParams.get('since'));
  const until = Date.parse(url.searchParams.get('until'));
  let first = 0;
  while (first < times.length && times[first] < since) first++;
  let end = first;
  while (end < times.length && times[end] < until) end++;
  if (url.searchParams.get('count') === 'true') {
    res.end(JSON.stringify({ count: end - first }));
    return;
  }
  const from = first + Number(url.searchParams.get('cursor') ?? 0);
  const to = Math.min(end, from + PAGE);
  const next = to < end ? String(to - first) : null;
  res.setHeader('content-type', 'application/json');
  res.end(`{"data":[${lines.slice(from, to).join(',')}],"next_cursor":${next === null ? 'null' : `"${next}"`}}`);
});
server.listen(0, '127.0.0.1', () => writeFileSync(portFile, String(server.address().port)));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
