import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SimulatorFaults } from '../config/schema.js';
import type { EventUniverse } from './generator.js';
import { SeededRandom } from './random.js';
import { ExportJobs } from './exports.js';

/**
 * A local Events API over the simulated universe: cursor pagination,
 * `count=true`, bearer auth, and a `/_truth` endpoint for tests.
 */
export interface SimulatorServer {
  url: string;
  close(): Promise<void>;
}

export interface SimulatorServerOptions {
  universe: EventUniverse;
  token: string;
  port?: number;
  now: () => number;
}

interface Cursor {
  minute: number;
  index: number;
}

const MINUTE_MS = 60_000;

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(text: string): Cursor | undefined {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString()) as Cursor;
    return Number.isInteger(value.minute) && Number.isInteger(value.index) ? value : undefined;
  } catch {
    return undefined;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function authorized(req: IncomingMessage, token: string): boolean {
  const given = Buffer.from(req.headers.authorization ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function parseRange(params: URLSearchParams): { since: number; until: number } | string {
  const since = Date.parse(params.get('since') ?? '');
  const until = Date.parse(params.get('until') ?? '');
  if (Number.isNaN(since) || Number.isNaN(until)) return 'since and until must be ISO timestamps';
  return { since, until };
}

async function page(options: SimulatorServerOptions, params: URLSearchParams, since: number, until: number) {
  const limit = Math.min(Math.max(Number(params.get('limit') ?? 1000) || 1000, 1), 100_000);
  const cursorText = params.get('cursor');
  const start = cursorText ? decodeCursor(cursorText) : { minute: Math.floor(since / MINUTE_MS), index: 0 };
  if (!start) return undefined;
  const now = options.now();
  const data: Record<string, unknown>[] = [];
  for (let minute = start.minute; minute * MINUTE_MS < until; minute++) {
    const events = options.universe.servedInMinute(minute);
    for (let index = minute === start.minute ? start.index : 0; index < events.length; index++) {
      const event = events[index]!;
      if (event.tsMs < since || event.tsMs >= until || event.visibleAtMs > now) continue;
      if (data.length === limit) return { data, next_cursor: encodeCursor({ minute, index }) };
      data.push(event.payload);
    }
  }
  return { data, next_cursor: null };
}

/** Decides, per request and from the seed, which fault (if any) the source shows. */
function injectedFault(faults: SimulatorFaults, rng: SeededRandom, hasCursor: boolean): string | undefined {
  const odds: [string, number][] = [
    ['429', faults.http_429_rate],
    ['500', faults.http_500_rate],
    ['truncated', faults.truncated_body_rate],
    ['410', hasCursor ? faults.expired_cursor_rate : 0],
  ];
  let roll = rng.next();
  for (const [fault, rate] of odds) {
    if (roll < rate) return fault;
    roll -= rate;
  }
  return undefined;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}

async function serveExports(exports: ExportJobs, req: IncomingMessage, res: ServerResponse, path: string) {
  if (req.method === 'POST' && path === '/v1/exports') {
    const job = exports.create(await readBody(req));
    return typeof job === 'string' ? send(res, 400, { error: job }) : send(res, 201, job);
  }
  const match = /^\/v1\/exports\/([\w-]+)(\/download)?$/.exec(path);
  if (req.method !== 'GET' || !match) return send(res, 404, { error: 'not found' });
  if (match[2]) {
    if (!(await exports.download(match[1]!, res))) send(res, 404, { error: 'no completed export with that id' });
    return;
  }
  const status = exports.status(match[1]!);
  return status ? send(res, 200, status) : send(res, 404, { error: 'no export with that id' });
}

export async function startSimulatorServer(options: SimulatorServerOptions): Promise<SimulatorServer> {
  const faults = options.universe.faults;
  let requests = 0;
  const exports = new ExportJobs(options.universe, options.now);
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!authorized(req, options.token)) return send(res, 401, { error: 'unauthorized' });
    if (url.pathname.startsWith('/v1/exports')) return serveExports(exports, req, res, url.pathname);
    if (req.method !== 'GET') return send(res, 405, { error: 'method not allowed' });
    const range = parseRange(url.searchParams);
    if (typeof range === 'string') return send(res, 400, { error: range });
    if (url.pathname === '/v1/events') {
      const fault = injectedFault(
        faults,
        new SeededRandom(`${options.universe.seed}:request:${++requests}`),
        url.searchParams.has('cursor'),
      );
      if (fault === '429') {
        res.setHeader('retry-after', String(faults.retry_after_seconds));
        return send(res, 429, { error: 'rate limited' });
      }
      if (fault === '500') return send(res, 500, { error: 'internal error' });
      if (fault === '410') return send(res, 410, { error: 'cursor expired' });
      if (url.searchParams.get('count') === 'true') {
        let count = 0;
        for (const _ of options.universe.eventsBetween(range.since, range.until, options.now())) count++;
        return send(res, 200, { count });
      }
      if (faults.slow_page_ms > 0) await sleep(faults.slow_page_ms);
      const body = await page(options, url.searchParams, range.since, range.until);
      if (!body) return send(res, 400, { error: 'invalid cursor' });
      if (fault === 'truncated') {
        const text = JSON.stringify(body);
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(text.slice(0, Math.floor(text.length / 2)));
      }
      return send(res, 200, body);
    }
    if (url.pathname === '/_truth') {
      const truth = options.universe.groundTruth(range.since, range.until, options.now());
      return send(res, 200, { ...truth, costMicros: truth.costMicros.toString() });
    }
    return send(res, 404, { error: 'not found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
