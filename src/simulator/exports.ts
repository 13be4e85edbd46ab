import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { EventUniverse, SimulatedEvent } from './generator.js';

/**
 * The simulator's Export API: `POST /v1/exports` creates a job for a time
 * range, `GET /v1/exports/{id}` reports it (processing, then completed),
 * `GET /v1/exports/{id}/download` streams the file (jsonl, json or csv,
 * optionally gzip) with the events visible at download time.
 */
export const EXPORT_FORMATS = ['jsonl', 'json', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

interface ExportJob {
  id: string;
  since: number;
  until: number;
  format: ExportFormat;
  gzip: boolean;
  polls: number;
}

const MINUTE_MS = 60_000;

/** RFC 4180 quoting; nested values as JSON text (DESIGN.md decision 11). */
function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export class ExportJobs {
  private readonly jobs = new Map<string, ExportJob>();

  constructor(
    private readonly universe: EventUniverse,
    private readonly now: () => number,
  ) {}

  /** Validates a create request; returns the job's public view or an error message. */
  create(body: unknown): { id: string; status: string } | string {
    const request = body as {
      type?: unknown;
      format?: unknown;
      compression?: unknown;
      filter?: Record<string, unknown>;
    };
    if (request?.type !== 'events') return 'type must be "events"';
    const format = request.format ?? 'jsonl';
    if (!EXPORT_FORMATS.includes(format as ExportFormat)) return `format must be one of ${EXPORT_FORMATS.join(', ')}`;
    const since = Date.parse(String(request.filter?.start_time));
    const until = Date.parse(String(request.filter?.end_time));
    if (Number.isNaN(since) || Number.isNaN(until))
      return 'filter.start_time and filter.end_time must be ISO timestamps';
    const id = `exp_${this.jobs.size + 1}`;
    this.jobs.set(id, {
      id,
      since,
      until,
      format: format as ExportFormat,
      gzip: request.compression === 'gzip',
      polls: 0,
    });
    return { id, status: 'pending' };
  }

  /** The first poll says processing, the next completed: clients must really poll. */
  status(id: string): { id: string; status: string } | undefined {
    const job = this.jobs.get(id);
    if (!job) return undefined;
    job.polls++;
    return { id, status: job.polls < 2 ? 'processing' : 'completed' };
  }

  async download(id: string, res: ServerResponse): Promise<boolean> {
    const job = this.jobs.get(id);
    if (!job || job.polls < 2) return false;
    // A gzip file, not Content-Encoding: the client stores the bytes and detects gzip by magic bytes.
    const type = job.gzip ? 'application/gzip' : job.format === 'csv' ? 'text/csv' : 'application/json';
    res.writeHead(200, { 'content-type': type });
    const body = Readable.from(this.render(job));
    await (job.gzip ? pipeline(body, createGzip(), res) : pipeline(body, res));
    return true;
  }

  private *events(job: ExportJob): Generator<SimulatedEvent> {
    const now = this.now();
    for (let minute = Math.floor(job.since / MINUTE_MS); minute * MINUTE_MS < job.until; minute++) {
      for (const event of this.universe.servedInMinute(minute)) {
        if (event.tsMs >= job.since && event.tsMs < job.until && event.visibleAtMs <= now) yield event;
      }
    }
  }

  private *render(job: ExportJob): Generator<string> {
    if (job.format === 'jsonl') {
      for (const event of this.events(job)) yield `${JSON.stringify(event.payload)}\n`;
    } else if (job.format === 'json') {
      let first = true;
      yield '[';
      for (const event of this.events(job)) {
        yield `${first ? '' : ',\n'}${JSON.stringify(event.payload)}`;
        first = false;
      }
      yield ']\n';
    } else {
      // One header for both shapes: each row fills its own shape's columns, the rest stay empty (null).
      const columns = [...new Set([...this.events(job)].flatMap((e) => Object.keys(e.payload)))].sort();
      yield `${columns.join(',')}\r\n`;
      for (const event of this.events(job)) {
        yield `${columns.map((c) => csvCell(event.payload[c])).join(',')}\r\n`;
      }
    }
  }
}
