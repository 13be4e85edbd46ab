// A minimal Events API that serves pre-generated pages from a JSONL file, so the server's own
// CPU stays small while the pipeline is measured: node bench/pages-server.mjs <events.jsonl> <port-file>
// The file is indexed (each line's offset and timestamp), not held: a 10M-event input is ~4.7 GB.
import { Buffer } from 'node:buffer';
import { createServer } from 'node:http';
import { closeSync, createReadStream, openSync, readSync, statSync, writeFileSync } from 'node:fs';

const [input, portFile] = process.argv.slice(2);
const PAGE = 5000;

/**
 * Each line's start offset (one more entry: the end of the last) and its event's timestamp. The
 * generator writes events in time order; a line without a readable time takes its predecessor's.
 */
async function index(file) {
  const estimate = Math.ceil(statSync(file).size / 100) + 1; // lines are far longer than 100 bytes
  const starts = new Float64Array(estimate);
  const times = new Float64Array(estimate);
  let count = 0;
  let offset = 0;
  let rest = Buffer.alloc(0);
  for await (const chunk of createReadStream(file)) {
    const buffer = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    let from = 0;
    for (let nl = buffer.indexOf(10, from); nl !== -1; nl = buffer.indexOf(10, from)) {
      if (nl > from) {
        let time = NaN;
        try {
          time = Date.parse(JSON.parse(buffer.toString('utf8', from, nl)).timestamp);
        } catch {
          // a bad record: served with its neighbours
        }
        times[count] = Number.isNaN(time) ? (count > 0 ? times[count - 1] : -Infinity) : time;
        starts[count++] = offset + from;
      }
      from = nl + 1;
    }
    offset += from;
    rest = buffer.subarray(from);
  }
  starts[count] = offset;
  return { starts, times, count };
}

const { starts, times, count } = await index(input);
const fd = openSync(input, 'r');

/** The first line at or after `ms` (binary search: a 10M-line scan per page would dominate). */
function firstAtOrAfter(ms) {
  let [low, high] = [0, count];
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (times[mid] < ms) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Lines [from, to) of the file as one JSON array's items. */
function linesBetween(from, to) {
  if (from >= to) return '';
  const buffer = Buffer.alloc(starts[to] - starts[from]);
  readSync(fd, buffer, 0, buffer.length, starts[from]);
  return buffer.toString('utf8').trimEnd().split('\n').join(',');
}

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const since = Date.parse(url.searchParams.get('since'));
  const until = Date.parse(url.searchParams.get('until'));
  const first = firstAtOrAfter(since);
  const end = Math.max(first, firstAtOrAfter(until));
  if (url.searchParams.get('count') === 'true') {
    res.end(JSON.stringify({ count: end - first }));
    return;
  }
  const from = first + Number(url.searchParams.get('cursor') ?? 0);
  const to = Math.min(end, from + PAGE);
  const next = to < end ? String(to - first) : null;
  res.setHeader('content-type', 'application/json');
  res.end(`{"data":[${linesBetween(from, to)}],"next_cursor":${next === null ? 'null' : `"${next}"`}}`);
});
server.listen(0, '127.0.0.1', () => writeFileSync(portFile, String(server.address().port)));
process.on('SIGTERM', () => server.close(() => (closeSync(fd), process.exit(0))));
