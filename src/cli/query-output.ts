import { createWriteStream, openSync, rmSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { finished } from 'node:stream/promises';
import type { JsonPage } from '../warehouse/driver.js';
import { renameDurably } from '../util/durable-write.js';
import { UsageError } from '../util/errors.js';
import { redact } from '../util/redact.js';
import type { QueryStream } from './query.js';
import { alignedLines, cellText, columnWidths } from './summary.js';

/**
 * Writes an `aetl query` result as it is read, page by page, so memory does
 * not grow with the result: an aligned table, CSV (RFC 4180), JSON lines, or
 * the one JSON object `--json` prints, on stdout or into a file. A row limit,
 * and a reader that goes away (`| head`), stop the reading of the result too.
 */
export const QUERY_FORMATS = ['table', 'csv', 'jsonl', 'json'] as const;
export type QueryFormat = (typeof QUERY_FORMATS)[number];

/** Rows a table on a terminal shows unless `--limit` says otherwise: a screenful, not the whole result. */
export const TERMINAL_ROWS = 100;

const BY_EXTENSION: Record<string, QueryFormat> = {
  '.csv': 'csv',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.json': 'json',
};

export interface QueryOutputOptions {
  format?: QueryFormat;
  limit?: number;
  out?: string;
}

/** Where the rows go and how, settled from the options before the warehouse is opened. */
export interface OutputPlan {
  format: QueryFormat;
  /** At most this many rows (Infinity: all). */
  limit: number;
  /** A file (absolute), or null for stdout. */
  out: string | null;
}

/**
 * `--out FILE` takes its format from `--format`, else from the file's extension; on
 * stdout `--json` is the JSON object and nothing else. Only a table on a terminal has
 * a row limit unless `--limit` gives one (then it holds for every format).
 */
export function outputPlan(opts: QueryOutputOptions, json: boolean, terminal: boolean): OutputPlan {
  if (opts.out !== undefined) {
    const format = opts.format ?? BY_EXTENSION[extname(opts.out).toLowerCase()];
    if (!format) {
      throw new UsageError(
        `cannot tell the format of ${opts.out} from its extension: add --format csv|jsonl|json|table`,
      );
    }
    return { format, limit: opts.limit ?? Infinity, out: resolve(opts.out) };
  }
  if (json && opts.format !== undefined && opts.format !== 'json') {
    throw new UsageError(`--json prints one JSON object: drop it for --format ${opts.format}, or add --out FILE`);
  }
  const format = json ? 'json' : (opts.format ?? 'table');
  const limit = opts.limit ?? (format === 'table' && terminal ? TERMINAL_ROWS : Infinity);
  return { format, limit, out: null };
}

/** A format as text per page: `first` is the result's first page (a header goes before its rows). */
interface RowsFormat {
  page(page: JsonPage, first: boolean): string;
  /** What follows the last row written; `truncated`: the limit left rows out. */
  end(truncated: boolean): string;
}

const CSV_OPTIONS = {
  // RFC 4180: CRLF between records; a field with a comma, quote, CR or LF quoted (quotes doubled).
  record_delimiter: 'windows',
  // A bare CR or LF too (the writer looks only for its own delimiter), and '' quoted so it differs from NULL.
  quoted_match: /^$|[\r\n]/,
  cast: { boolean: (value: boolean) => String(value) },
} as const;

/** The CSV writer is loaded only for CSV output (every `aetl` start would pay for it otherwise). */
async function csvFormat(): Promise<RowsFormat> {
  const { stringify } = await import('csv-stringify/sync');
  return {
    page: ({ columns, rows }, first) => stringify(rows, { ...CSV_OPTIONS, columns, header: first }),
    end: () => '',
  };
}

function jsonLinesFormat(): RowsFormat {
  return { page: ({ rows }) => rows.map((row) => `${JSON.stringify(row)}\n`).join(''), end: () => '' };
}

/**
 * `{"query", "engine", "lake", "rows": [...], "truncated"}`, one row per line, written as the rows come;
 * on stdout it is the command's result, so it ends with its `exit_code` (the JSON contract).
 */
function jsonObjectFormat(stream: QueryStream, stdout: boolean): RowsFormat {
  let rowsSoFar = 0;
  return {
    page: ({ rows }, first) => {
      const { query, engine, lake } = stream;
      const head = first
        ? `{\n  "query": ${JSON.stringify(query)},\n  "engine": "${engine}",\n  "lake": ${lake},\n  "rows": [`
        : '';
      const text = rows.map((row, i) => `${rowsSoFar + i === 0 ? '' : ','}\n    ${JSON.stringify(row)}`).join('');
      rowsSoFar += rows.length;
      return head + text;
    },
    end: (truncated) =>
      `${rowsSoFar === 0 ? '' : '\n  '}],\n  "truncated": ${truncated}${stdout ? ',\n  "exit_code": 0' : ''}\n}\n`,
  };
}

/** Aligned columns as wide as the header and the first page's cells (later rows are not waited for). */
function tableFormat(): RowsFormat {
  let widths: number[] = [];
  let rowsSoFar = 0;
  return {
    page: ({ columns, rows }, first) => {
      const cells = rows.map((row) => columns.map((c) => cellText(row[c])));
      if (first) widths = columnWidths([columns, ...cells]);
      if (first && rows.length > 0) cells.unshift(columns);
      rowsSoFar += rows.length;
      return cells.length === 0 ? '' : `${alignedLines(cells, widths)}\n`;
    },
    end: () => (rowsSoFar === 0 ? '(no rows)\n' : ''),
  };
}

const FORMATS: Record<QueryFormat, (stream: QueryStream, stdout: boolean) => RowsFormat | Promise<RowsFormat>> = {
  table: tableFormat,
  csv: csvFormat,
  jsonl: jsonLinesFormat,
  json: jsonObjectFormat,
};

/**
 * Text into a stream with backpressure (at most one page's text waits in memory), through
 * the redaction layer. Once the stream fails or closes (a reader gone), writes return false.
 */
class StreamSink {
  error: Error | undefined;
  private closed = false;

  constructor(private readonly stream: NodeJS.WritableStream) {
    stream.on('error', (error: Error) => {
      this.error ??= error;
      this.closed = true;
    });
    stream.on('close', () => (this.closed = true));
  }

  async write(text: string): Promise<boolean> {
    if (this.closed) return false;
    if (text !== '' && !this.stream.write(redact(text))) {
      await new Promise<void>((resolve) => {
        const done = () => {
          for (const event of ['drain', 'close', 'error']) this.stream.off(event, done);
          resolve();
        };
        for (const event of ['drain', 'close', 'error']) this.stream.once(event, done);
      });
    }
    return !this.closed;
  }
}

export interface QueryOutcome {
  /** Rows written. */
  rows: number;
  /** The limit left rows out. */
  truncated: boolean;
}

/** Writes the rows up to the plan's limit; stops reading the result when the limit is reached or the sink is gone. */
async function writeRows(stream: QueryStream, plan: OutputPlan, sink: StreamSink): Promise<QueryOutcome> {
  const format = await FORMATS[plan.format](stream, plan.out === null);
  let rows = 0;
  let first = true;
  let truncated = false;
  for await (const page of stream.pages) {
    const room = plan.limit - rows;
    const kept = page.rows.length > room ? page.rows.slice(0, room) : page.rows;
    if (!(await sink.write(format.page({ columns: page.columns, rows: kept }, first)))) return { rows, truncated };
    first = false;
    rows += kept.length;
    if (kept.length < page.rows.length) {
      truncated = true;
      break; // ends the result's reading: the warehouse closes now
    }
  }
  await sink.write(format.end(truncated));
  return { rows, truncated };
}

/**
 * Writes the result to stdout, or to the plan's file: beside it first, moved into place
 * whole once every row is in (a failed query leaves no partial file under that name).
 */
export async function writeQuery(stream: QueryStream, plan: OutputPlan): Promise<QueryOutcome> {
  if (plan.out === null) return writeRows(stream, plan, new StreamSink(process.stdout));
  const tmp = `${plan.out}.${process.pid}.tmp`;
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (error) {
    throw new UsageError(`cannot write ${plan.out}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const file = createWriteStream('', { fd });
  const sink = new StreamSink(file);
  try {
    const outcome = await writeRows(stream, plan, sink);
    file.end();
    await finished(file);
    if (sink.error) throw sink.error;
    renameDurably(tmp, plan.out);
    return outcome;
  } catch (error) {
    file.destroy();
    rmSync(tmp, { force: true });
    throw error;
  }
}

/** On stderr when the limit left rows out: how to have them all. */
export function truncationNote(outcome: QueryOutcome, plan: OutputPlan): string {
  const rows = `${outcome.rows.toLocaleString('en-US')} rows`;
  return plan.out === null
    ? `aetl: showing the first ${rows}; more not shown: raise --limit, or use --format csv|jsonl or --out FILE for every row\n`
    : `aetl: wrote the first ${rows} (--limit); the result has more\n`;
}
