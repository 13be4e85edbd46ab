import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { simulatorSettingsFrom } from '../../src/config/schema.js';
import { inspect, plainLine } from '../../src/contract/structure.js';
import { EventUniverse } from '../../src/simulator/generator.js';
import { readSourceFile } from '../../src/source/files.js';
import { MAX_RECORD_BYTES, writeHostileCorpus, writeHostileFile } from '../helpers/hostile-corpus.js';
import { shapeA } from '../helpers/events.js';
import { shippedReference } from '../helpers/workspace.js';

const nest = (open: string, close: string, levels: number) => `${open.repeat(levels)}1${close.repeat(levels)}`;

/** Lines the screen must not clear, each with what the walk then says (null: nothing, the screen was only cautious). */
const CRAFTED: [string, string | null][] = [
  ['{"a":"\\ud800"}', 'a: not valid Unicode (a lone surrogate)'],
  ['{"a":["x","\\udc00y"]}', 'a.1: not valid Unicode (a lone surrogate)'],
  ['{"m":{"\\udfff":1}}', 'm.\udfff: a key that is not valid Unicode (a lone surrogate)'],
  ['{"a":"\\ud83d\\ude00"}', null],
  ['{"a":"😀"}', null],
  ['{"\\u005f_proto__":1}', '__proto__: the key "__proto__" is not accepted anywhere'],
  ['{"m":{"constr\\u0075ctor":1}}', 'm.constructor: the key "constructor" is not accepted anywhere'],
  ['{"m":[{"proto\\u0074ype":1}]}', 'm.0.prototype: the key "prototype" is not accepted anywhere'],
  ['{"m":{"prototype":1}}', 'm.prototype: the key "prototype" is not accepted anywhere'],
  ['{"a":"constructor","b":"__proto__ and prototype"}', null],
  ['{"a":"\\\\u0041"}', null],
  [nest('{"n":', '}', 33), null],
  [
    nest('{"n":', '}', 34),
    'n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n: nested deeper than 32 levels',
  ],
  [
    nest('[', ']', 34),
    '0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0: nested deeper than 32 levels',
  ],
  [`{"a":"${'['.repeat(40)}"}`, null],
  [`{"a":${nest('{"b":', '}', 16)},"c":${nest('[', ']', 17)}}`, null],
];

/** What the walk says of a line, as `path: message`, or null. */
function walked(text: string): string | null {
  const { reason } = inspect(JSON.parse(text));
  return reason && `${reason.path}: ${reason.message}`;
}

describe('the JSON line screen (skips the structural walk only where the walk finds nothing)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aetl-screen-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('clears the simulated records, of both shapes and with bad ones among them', () => {
    const settings = simulatorSettingsFrom({ seed: 19, rate_per_minute: 600, bad_record_rate: 0.05 });
    const universe = new EventUniverse(settings, shippedReference());
    const lines = [0, 1, 2]
      .flatMap((i) => universe.eventsInMinute(29_000_000 + i))
      .map((e) => JSON.stringify(e.payload));
    expect(lines.length).toBeGreaterThan(1000);
    for (const text of lines) if (plainLine(text)) expect(walked(text), text).toBeNull();
    expect(lines.filter(plainLine).length / lines.length).toBeGreaterThan(0.95);
  });

  it('never clears a line the walk would refuse, over both hostile corpora read as the pipeline reads them', async () => {
    writeHostileCorpus(join(dir, 'corpus'), 2026, 12, 400);
    writeHostileFile(join(dir, 'hostile.jsonl'), MAX_RECORD_BYTES);
    const files = [
      ...readdirSync(join(dir, 'corpus'))
        .filter((name) => /\.(jsonl|ndjson)(\.gz)?$/.test(name))
        .map((name) => join(dir, 'corpus', name)),
      join(dir, 'hostile.jsonl'),
    ];
    let lines = 0;
    const refused = new Set<string>();
    for (const file of files) {
      try {
        for await (const batch of readSourceFile(file, MAX_RECORD_BYTES)) {
          for (const record of batch) {
            if (record.kind !== 'line') continue;
            let reason: string | null;
            try {
              reason = walked(record.text);
            } catch {
              continue; // not JSON: rejected before any walk
            }
            lines++;
            if (reason) refused.add(reason.replace(/^.*: /, ''));
            if (plainLine(record.text)) expect(reason, record.text.slice(0, 200)).toBeNull();
          }
        }
      } catch {
        // a truncated gzip: its readable lines were checked
      }
    }
    expect(lines).toBeGreaterThan(2000);
    // Each kind of structural damage the corpora hold was among the lines checked.
    expect([...refused].sort()).toEqual([
      'a key that is not valid Unicode (a lone surrogate)',
      'nested deeper than 32 levels',
      'not valid Unicode (a lone surrogate)',
      'the key "__proto__" is not accepted anywhere',
      'the key "constructor" is not accepted anywhere',
    ]);
  });

  it('sends crafted lines to the walk: escaped surrogates, keys spelled with escapes, deep nesting', () => {
    for (const [text, reason] of CRAFTED) {
      expect(plainLine(text), text).toBe(false);
      expect(walked(text), text).toBe(reason);
    }
    // A valid event escapes the screen only by what it holds, not by its size or shape.
    expect(plainLine(JSON.stringify(shapeA('e', 1, { metadata: { note: 'x'.repeat(100_000) } })))).toBe(true);
  });
});
