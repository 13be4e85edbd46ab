import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createHash, type Hash } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import { isUtf8 } from 'node:buffer';
import { isAbsolute, resolve } from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { glob, isDynamicPattern } from 'tinyglobby';
import { parse as parseCsv } from 'csv-parse';
import streamArray from 'stream-json/streamers/stream-array.js';
import { KEPT_BYTES, oversizedMessage } from '../contract/event.js';
import { sha256Hex } from '../contract/hash.js';
import type { RawRecord } from './source.js';

export interface SourceFile {
  path: string;
  size: number;
  sha256: string;
}

const FORMATS = ['jsonl', 'ndjson', 'json', 'csv'] as const;
type Format = (typeof FORMATS)[number];
/** CSV cells that hold nested values as JSON text (DESIGN.md decision 11). */
const NESTED_CSV_COLUMNS = new Set(['policies_evaluated', 'policies_triggered', 'metadata']);
const BATCH = 1000;

export function formatOf(path: string): Format | undefined {
  const name = path.toLowerCase().replace(/\.gz$/, '');
  return FORMATS.find((format) => name.endsWith(`.${format}`));
}

const HASH_CONCURRENCY = 4;

/**
 * A path, a directory (every supported file under it) or a glob; sorted so
 * runs are repeatable. Files younger than `minAgeMs` are left for a later run.
 */
export async function listSourceFiles(pattern: string, minAgeMs = 0, nowMs = Date.now()): Promise<SourceFile[]> {
  let paths: string[];
  if (isDynamicPattern(pattern)) {
    paths = await glob(pattern, { absolute: true, onlyFiles: true });
  } else {
    const info = await stat(pattern).catch(() => undefined);
    if (!info) return [];
    paths = info.isDirectory()
      ? await glob('**/*', { cwd: pattern, absolute: true, onlyFiles: true })
      : [isAbsolute(pattern) ? pattern : resolve(pattern)];
  }
  const supported = paths.filter((path) => formatOf(path) !== undefined).sort();
  const settled: string[] = [];
  for (const path of supported)
    if (minAgeMs === 0 || nowMs - (await stat(path)).mtimeMs >= minAgeMs) settled.push(path);
  // Hash a few at a time: a large inbox must not exhaust file descriptors.
  const described: SourceFile[] = [];
  for (let i = 0; i < settled.length; i += HASH_CONCURRENCY) {
    described.push(...(await Promise.all(settled.slice(i, i + HASH_CONCURRENCY).map(describeFile))));
  }
  return described;
}

async function describeFile(path: string): Promise<SourceFile> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { path, size, sha256: hash.digest('hex') };
}

/**
 * gzip is recognised by its magic bytes, not trusted from the file name.
 * Destroying the returned stream closes the file: `pipeline`, unlike `pipe`,
 * destroys the file stream when the decoder is destroyed.
 */
async function openDecoded(path: string): Promise<Readable> {
  const handle = await open(path, 'r');
  const magic = Buffer.alloc(2);
  try {
    await handle.read(magic, 0, 2, 0);
  } finally {
    await handle.close();
  }
  const raw = createReadStream(path);
  // Errors reach the reader through the decoder, which the pipeline destroys with them.
  return magic[0] === 0x1f && magic[1] === 0x8b ? pipeline(raw, createGunzip(), () => undefined) : raw;
}

/** The reader's own count of the records it found, apart from what later stages count (file completeness). */
export interface RecordTally {
  records: number;
}

/** Text held in one batch at most: a few large lines make a batch as a thousand small ones do. */
const BATCH_CHARS = 4 * 1024 ** 2;

/**
 * The readers yield the records of each piece of input they read (a chunk of lines, one CSV row,
 * one array item): an async step per line was a tenth of what a file's extraction allocated.
 */
async function* batched(pieces: AsyncIterable<RawRecord[]>, tally: RecordTally): AsyncIterable<RawRecord[]> {
  let batch: RawRecord[] = [];
  let chars = 0;
  for await (const found of pieces) {
    for (const record of found) {
      tally.records++;
      batch.push(record);
      if (record.kind !== 'value') chars += record.text.length;
      if (batch.length >= BATCH || chars >= BATCH_CHARS) {
        yield batch;
        batch = [];
        chars = 0;
      }
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * JSON lines, split at the byte level: readline can neither bound a line's
 * length nor see bytes that are not UTF-8. A line over `maxBytes` is never
 * held whole: its bytes are hashed as they pass and it is rejected with its
 * first bytes; a line that is not UTF-8 is rejected; a BOM at the start is dropped.
 * Lines are numbered as an editor shows them, blank ones included.
 */
async function* jsonLines(path: string, input: Readable, maxBytes: number): AsyncIterable<RawRecord[]> {
  let pieces: Buffer[] = [];
  let size = 0;
  let line = 0;
  let oversized: Hash | null = null;
  const keep = (piece: Buffer) => {
    size += piece.length;
    if (oversized) {
      oversized.update(piece);
      return;
    }
    pieces.push(piece);
    if (size > maxBytes) {
      oversized = createHash('sha256');
      for (const held of pieces) oversized.update(held);
      pieces = [Buffer.concat(pieces, Math.min(size, KEPT_BYTES))];
    }
  };
  const take = (): RawRecord | undefined => {
    line++;
    const location = { source: path, ref: `line ${line}` };
    const bytes = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
    const total = size;
    const hash = oversized;
    pieces = [];
    size = 0;
    oversized = null;
    if (hash) {
      const read = { length: total, sha256: hash.digest('hex'), partial: true };
      return {
        kind: 'unparseable',
        text: bytes.toString('utf8'),
        error: oversizedMessage(maxBytes, total),
        location,
        bytes: read,
      };
    }
    if (!isUtf8(bytes)) {
      const error = 'not valid UTF-8 (the bad bytes are shown as U+FFFD)';
      const read = { length: bytes.length, sha256: sha256Hex(bytes), partial: false };
      return { kind: 'unparseable', text: bytes.toString('utf8').trim(), error, location, bytes: read };
    }
    const text = bytes.toString('utf8').trim();
    return text === '' ? undefined : { kind: 'line', text, location };
  };
  // A line ends at LF, CRLF or a lone CR (old Mac files); a CRLF split across chunks is one end.
  let skipLf = false;
  let first = true;
  for await (const chunk of input as AsyncIterable<Buffer>) {
    const found: RawRecord[] = [];
    let start = skipLf && chunk[0] === 0x0a ? 1 : 0;
    if (first && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) start = 3;
    first = false;
    skipLf = false;
    let lf = chunk.indexOf(0x0a, start);
    let cr = chunk.indexOf(0x0d, start);
    while (lf !== -1 || cr !== -1) {
      const end = cr !== -1 && (lf === -1 || cr < lf) ? cr : lf;
      keep(chunk.subarray(start, end));
      const record = take();
      if (record) found.push(record);
      start = end + 1;
      if (end === cr) {
        if (chunk[start] === 0x0a) start++;
        else if (start === chunk.length) skipLf = true;
      }
      if (lf !== -1 && lf < start) lf = chunk.indexOf(0x0a, start);
      if (cr !== -1 && cr < start) cr = chunk.indexOf(0x0d, start);
    }
    keep(chunk.subarray(start));
    if (found.length > 0) yield found;
  }
  if (size > 0) {
    const record = take();
    if (record) yield [record];
  }
}

async function* jsonArray(path: string, input: Readable): AsyncIterable<RawRecord[]> {
  // An empty file (or only whitespace) is an empty export, not a broken one; the parser would refuse it.
  let blank = true;
  input.on('data', (chunk: Buffer) => {
    if (blank && /\S/.test(chunk.toString('latin1'))) blank = false;
  });
  const items = input.pipe(streamArray.withParserAsStream());
  try {
    for await (const item of items as AsyncIterable<{ key: number; value: unknown }>) {
      yield [{ kind: 'value', value: item.value, location: { source: path, ref: `item ${item.key + 1}` } }];
    }
  } catch (error) {
    if (!blank) throw error;
  }
}

function csvCell(column: string, cell: string): unknown {
  if (NESTED_CSV_COLUMNS.has(column) && /^[[{]/.test(cell)) {
    try {
      return JSON.parse(cell);
    } catch {
      return cell; // the contract rejects it, naming the column
    }
  }
  return cell;
}

async function* csvRows(path: string, input: Readable, maxBytes: number): AsyncIterable<RawRecord[]> {
  // A record over the limit (an unclosed quote swallowing the file) makes the file unreadable, not memory run out.
  const parser = input.pipe(
    parseCsv({ raw: true, info: true, bom: true, relax_column_count: true, max_record_size: maxBytes }),
  );
  let header: string[] | undefined;
  for await (const row of parser as AsyncIterable<{ record: string[]; raw: string; info: { lines: number } }>) {
    if (!header) {
      header = row.record.map((name) => name.trim());
      continue;
    }
    const location = { source: path, ref: `line ${row.info.lines}` };
    if (row.record.length !== header.length) {
      const error = `CSV row has ${row.record.length} columns, the header has ${header.length}`;
      yield [{ kind: 'unparseable', text: row.raw.trimEnd(), error, location }];
      continue;
    }
    // Built as own properties: a header named __proto__ must not reach the object's prototype.
    const value = Object.fromEntries(
      header.flatMap((column, i) => {
        const cell = row.record[i]!;
        return cell === '' ? [] : [[column, csvCell(column, cell)]]; // an empty cell is null
      }),
    );
    yield [{ kind: 'value', value, location }];
  }
}

/** A file that cannot be read to its end (truncated gzip, broken JSON array, unclosed CSV quote). */
export class UnreadableFileError extends Error {
  override readonly name = 'UnreadableFileError';
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Streams one file's records in bounded batches; a file that breaks off names itself in the error.
 * `maxRecordBytes` bounds a JSON line as it is read (a record over it is rejected) and a CSV
 * record (the file becomes unreadable); JSON array items are judged once parsed. Every record
 * found (a non-blank line, a CSV row, an array item) is counted in `tally`.
 */
export async function* readSourceFile(
  path: string,
  maxRecordBytes: number,
  tally: RecordTally = { records: 0 },
): AsyncIterable<RawRecord[]> {
  const format = formatOf(path);
  const input = await openDecoded(path);
  const records =
    format === 'csv'
      ? csvRows(path, input, maxRecordBytes)
      : format === 'json'
        ? jsonArray(path, input)
        : jsonLines(path, input, maxRecordBytes);
  try {
    yield* batched(records, tally);
  } catch (error) {
    throw new UnreadableFileError(
      path,
      `${path}: cannot be read to its end (${format ?? 'unknown format'}): ${(error as Error).message}`,
    );
  } finally {
    // A consumer that stops early (break, throw, a stop request) or a parse error leaves the
    // file open otherwise: the CSV and JSON parsers are piped from it and do not close it.
    input.destroy();
  }
}
