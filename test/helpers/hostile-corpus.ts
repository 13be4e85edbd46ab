import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import { EventUniverse } from '../../src/simulator/generator.js';
import { SeededRandom } from '../../src/simulator/random.js';
import { shapeA } from './events.js';
import { shippedReference } from './workspace.js';

/**
 * A seeded corpus of files a hostile or broken source could send: valid events
 * of both shapes mixed with every kind of bad record (invalid JSON and UTF-8,
 * oversized lines, deep nesting, numbers out of range, prototype keys, control
 * characters and lone surrogates, impossible timestamps, non-objects), with
 * BOMs, CRLF, empty files, a shifted CSV and a truncated gzip. It knows what a
 * correct loader must make of each record.
 */
export interface Corpus {
  /** Records in readable files (non-empty lines, CSV rows, array items). */
  records: number;
  validIds: Set<string>;
  rejected: number;
  /** Rejected records by the kind of damage, for the error messages. */
  byKind: Record<string, number>;
  unreadableFiles: string[];
}

export const MAX_RECORD_BYTES = 16 * 1024;
const EPOCH = Date.parse('2026-03-01T00:00:00Z');

type Line = { text: string | Buffer; valid: string | null; kind: string };

export function writeHostileCorpus(dir: string, seed: number, files = 24, perFile = 650): Corpus {
  mkdirSync(dir, { recursive: true });
  const rng = new SeededRandom(`hostile-${seed}`);
  const universe = new EventUniverse(
    simulatorSettingsFrom({ seed, rate_per_minute: 40, bad_record_rate: 0 }),
    shippedReference(),
  );
  const corpus: Corpus = { records: 0, validIds: new Set(), rejected: 0, byKind: {}, unreadableFiles: [] };
  let minute = Math.floor(EPOCH / 60_000);
  let pending: Record<string, unknown>[] = [];
  const validPayload = (): Record<string, unknown> => {
    while (pending.length === 0) pending = universe.eventsInMinute(minute++).map((e) => e.payload);
    return pending.shift()!;
  };
  const hostile = (): Line => {
    const base = validPayload();
    const json = (value: unknown, kind: string): Line => ({ text: JSON.stringify(value), valid: null, kind });
    switch (rng.int(0, 15)) {
      case 0:
        return { text: JSON.stringify(base).slice(0, rng.int(60, 120)), valid: null, kind: 'truncated JSON' };
      case 1: {
        // Bytes that are not UTF-8 inside a string value.
        const [head, tail] = JSON.stringify({ ...base, model: 'MARK' }).split('MARK');
        return {
          text: Buffer.concat([Buffer.from(head!), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(tail!)]),
          valid: null,
          kind: 'invalid UTF-8',
        };
      }
      case 2:
        return json({ ...base, metadata: { prompt: 'x'.repeat(MAX_RECORD_BYTES + rng.int(1, 5000)) } }, 'oversized');
      case 3: {
        let nested: unknown = 'bottom';
        for (let i = 0; i < rng.int(100, 3000); i++) nested = { n: nested };
        return json({ ...base, metadata: { deep: nested } }, 'deep nesting');
      }
      case 4:
        return json({ ...base, input_tokens: rng.pick([1e19, -5, 1.5, '12abc', 2 ** 53]) }, 'number out of range');
      case 5:
        return json({ ...base, ...('cost_usd' in base ? { cost_usd: 1e15 } : { cost: '-0.5' }) }, 'bad cost');
      case 6:
        return {
          text: JSON.stringify(base).replace(/^\{/, '{"__proto__":{"polluted":true},'),
          valid: null,
          kind: 'prototype key',
        };
      case 7:
        return json({ ...base, metadata: { constructor: { prototype: { polluted: true } } } }, 'prototype key');
      case 8:
        return json({ ...base, id: `ev\u0000${String(base.id)}` }, 'control character');
      case 9:
        return json({ ...base, user_id: '\ud800lone', user: '\ud800lone' }, 'lone surrogate');
      case 10:
        return json(
          { ...base, timestamp: rng.pick(['2026-13-45T00:00:00Z', '', '99999-01-01T00:00:00Z', 'now']) },
          'bad timestamp',
        );
      case 11:
        return json(rng.pick([rng.int(0, 2 ** 30), `event ${String(base.id)}`, [base]]), 'not an object');
      case 12:
        return json({ ...base, decision: rng.pick(['maybe', '', 'ALLOW ', 7]) }, 'bad decision');
      case 13:
        // Shape A fields with shape B's `user` as a number: it once reached the appender as a non-string.
        return rng.next() < 0.5
          ? json({ ...base, id: 'x'.repeat(300) }, 'long id')
          : json({ ...base, user_id: null, user: rng.int(1, 1e6) }, 'mixed shapes');
      case 14:
        // 1e999 parses to Infinity: written as text, since JSON.stringify would turn it into null.
        return {
          text: JSON.stringify({ ...base, latency_ms: 'LATENCY' }).replace(
            '"LATENCY"',
            rng.pick(['-1', '"fast"', '1e999']),
          ),
          valid: null,
          kind: 'bad latency',
        };
      default:
        return json({ ...base, policies_evaluated: rng.pick(['all', [{ name: '' }], [7], { a: 1 }]) }, 'bad policies');
    }
  };
  const nextLine = (): Line => {
    if (rng.next() < 0.25) return hostile();
    const payload = validPayload();
    return { text: JSON.stringify(payload), valid: String(payload.id), kind: 'valid' };
  };
  const count = (lines: Line[]) => {
    for (const line of lines) {
      corpus.records++;
      if (line.valid) corpus.validIds.add(line.valid);
      else {
        corpus.rejected++;
        corpus.byKind[line.kind] = (corpus.byKind[line.kind] ?? 0) + 1;
      }
    }
  };
  const lineBytes = (lines: Line[], eol: string) =>
    Buffer.concat(lines.flatMap((l) => [Buffer.isBuffer(l.text) ? l.text : Buffer.from(l.text), Buffer.from(eol)]));

  for (let f = 0; f < files; f++) {
    const lines = Array.from({ length: perFile }, nextLine);
    const name = `batch-${String(f).padStart(3, '0')}`;
    switch (f % 6) {
      case 0: // JSONL with a BOM and CRLF line ends
        writeFileSync(
          join(dir, `${name}.jsonl`),
          Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), lineBytes(lines, '\r\n')]),
        );
        count(lines);
        break;
      case 1: // gzipped JSONL, blank lines in between
        writeFileSync(join(dir, `${name}.jsonl.gz`), gzipSync(lineBytes(lines, '\n\n')));
        count(lines);
        break;
      case 2: {
        // a JSON array: items are values, so no line-level damage (bytes, truncation) here
        const items = lines.filter((l) => typeof l.text === 'string' && l.kind !== 'truncated JSON');
        writeFileSync(join(dir, `${name}.json`), `[${items.map((l) => l.text as string).join(',\n')}]`);
        count(items);
        break;
      }
      case 3: {
        // CSV with the shape A columns; a row with a shifted column is rejected with its line
        const columns = [
          'id',
          'timestamp',
          'decision',
          'model',
          'provider',
          'input_tokens',
          'output_tokens',
          'gateway_id',
          'user_id',
          'cost_usd',
        ];
        const cell = (v: unknown) => (v === undefined || v === null ? '' : `"${String(v).replaceAll('"', '""')}"`);
        const rows: Line[] = [];
        for (let i = 0; i < perFile; i++) {
          const event = validPayload();
          if (!('cost_usd' in event)) continue;
          const values = columns.map((c) => cell(event[c]));
          if (rng.next() < 0.1)
            rows.push({
              text: [...values.slice(0, 3), '""', ...values.slice(3)].join(','),
              valid: null,
              kind: 'shifted CSV column',
            });
          else rows.push({ text: values.join(','), valid: String(event.id), kind: 'valid' });
        }
        writeFileSync(
          join(dir, `${name}.csv`),
          `\ufeff${columns.join(',')}\r\n${rows.map((r) => r.text as string).join('\r\n')}\r\n`,
        );
        count(rows);
        break;
      }
      case 4:
        writeFileSync(join(dir, `${name}.jsonl`), lineBytes(lines, '\n'));
        count(lines);
        break;
      default: {
        // a truncated gzip: unreadable, reported, and left out of the ledger so a fixed copy loads
        const whole = gzipSync(lineBytes(lines, '\n'));
        writeFileSync(join(dir, `${name}.jsonl.gz`), whole.subarray(0, Math.floor(whole.length / 2)));
        corpus.unreadableFiles.push(join(dir, `${name}.jsonl.gz`));
      }
    }
  }
  writeFileSync(join(dir, 'empty.jsonl'), '');
  writeFileSync(join(dir, 'blank.jsonl'), '\n\r\n  \n');
  return corpus;
}

/** One hostile line as written: what the quarantine must keep of it. */
export interface HostileLine {
  ref: string;
  kind: string;
  bytes: Buffer;
}

export interface HostileFile {
  validIds: string[];
  hostile: HostileLine[];
}

/**
 * A single JSONL file of a few MB (issue 17 item 5): valid events with huge
 * lines between them (fields of 200 KB to 3 MB, 10,000 levels of nesting,
 * bytes that are not UTF-8, raw and escaped NULs, a lone-surrogate key, a huge
 * key, thousands of bad policies) and a line whose first 64 KiB alone would
 * pass as a valid event. `maxRecordBytes` is the limit the run is given.
 */
export function writeHostileFile(path: string, maxRecordBytes: number): HostileFile {
  const event = (id: string, i: number, extra: Record<string, unknown> = {}) =>
    shapeA(id, 0, {
      timestamp: new Date(Date.UTC(2026, 3, 10, 8) + i * 1000).toISOString(),
      input_tokens: 100 + i,
      ...extra,
    });
  const text = (value: unknown) => Buffer.from(JSON.stringify(value));
  const withBytes = (value: unknown, bytes: number[]) => {
    const [head, tail] = JSON.stringify(value).split('MARK');
    return Buffer.concat([Buffer.from(head!), Buffer.from(bytes), Buffer.from(tail!)]);
  };
  const deep = (levels: number, leaf: number) => Buffer.from(`${'{"n":'.repeat(levels)}${leaf}${'}'.repeat(levels)}`);
  // Exactly KEPT_BYTES of a valid event, then junk: a 64 KiB cut would look like a valid record.
  const cutLooksValid = (i: number) => {
    const bare = JSON.stringify(event(`cut-${i}`, i, { metadata: { pad: '' } }));
    const valid = JSON.stringify(event(`cut-${i}`, i, { metadata: { pad: 'p'.repeat(64 * 1024 - bare.length) } }));
    return Buffer.from(`${valid}${'j'.repeat(100_000)}`);
  };
  const kinds: [string, (i: number) => Buffer][] = [
    [
      'oversized field',
      (i) => text(event(`h-${i}`, i, { metadata: { prompt: 'x'.repeat(maxRecordBytes + 200_000 * (1 + (i % 10))) } })),
    ],
    [
      'huge invalid JSON',
      (i) => Buffer.from(`${JSON.stringify(event(`h-${i}`, i)).slice(0, 80)}${'q'.repeat(200_000 + 50_000 * (i % 5))}`),
    ],
    ['deep nesting', (i) => deep(10_000, i)],
    [
      'invalid UTF-8',
      (i) => withBytes(event(`h-${i}`, i, { model: 'MARK', metadata: { p: 'u'.repeat(300_000) } }), [0xc3, 0x28, 0xff]),
    ],
    ['raw NUL', (i) => withBytes(event(`h-${i}`, i, { model: 'MARK', metadata: { p: 'n'.repeat(200_000) } }), [0x00])],
    ['escaped NUL', (i) => text(event(`h\u0000${i}`, i))],
    ['lone surrogate key', (i) => text(event(`h-${i}`, i, { metadata: { '\ud800k': 1 } }))],
    ['huge key', (i) => text(event(`h-${i}`, i, { metadata: { ['k'.repeat(300_000)]: { constructor: 1 } } }))],
    [
      'many bad policies',
      (i) => text(event(`h-${i}`, i, { policies_evaluated: Array.from({ length: 5000 }, () => ({ name: '' })) })),
    ],
    ['cut looks valid', cutLooksValid],
  ];
  const lines: Buffer[] = [];
  const file: HostileFile = { validIds: [], hostile: [] };
  let hostileIndex = 0;
  for (let i = 0; i < 400; i++) {
    if (i % 10 === 5 && hostileIndex < kinds.length * 2) {
      const [kind, make] = kinds[hostileIndex++ % kinds.length]!;
      const bytes = make(i);
      lines.push(bytes);
      file.hostile.push({ ref: `line ${i + 1}`, kind, bytes });
    } else {
      lines.push(text(event(`ok-${i}`, i)));
      file.validIds.push(`ok-${i}`);
    }
  }
  writeFileSync(path, Buffer.concat(lines.flatMap((line) => [line, Buffer.from('\n')])));
  return file;
}
