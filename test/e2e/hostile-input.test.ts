import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_PRIVACY } from '../../src/contract/privacy.js';
import { readSourceFile } from '../../src/source/files.js';
import { validateBatch } from '../../src/staging/validate-batch.js';
import { aetl, type CliResult } from '../helpers/cli.js';
import { query } from '../helpers/duckdb.js';
import { MAX_RECORD_BYTES, writeHostileCorpus, type Corpus } from '../helpers/hostile-corpus.js';
import { Workspace } from '../helpers/workspace.js';
import { serveLocal, type LocalServer } from '../helpers/local-server.js';
import { shapeA } from '../helpers/events.js';

describe('a hostile corpus of files (seeded, > 10k records): nothing crashes, nothing is lost', () => {
  const ws = new Workspace();
  let corpus: Corpus;
  let run: CliResult;

  beforeAll(async () => {
    corpus = writeHostileCorpus(ws.path('inbox'), 2026);
    const config = ws.writeConfig({
      source: { kind: 'files', files: ws.path('inbox'), max_record_bytes: `${MAX_RECORD_BYTES / 1024}KB` },
      checks: { max_reject_rate: 1 },
    });
    run = await aetl(['run', '--config', config], {}, 180_000);
  }, 240_000);
  afterAll(() => ws.remove());

  it('the run completes: only the truncated gzip files fail it, each named, and no exception escapes', () => {
    expect(corpus.records).toBeGreaterThan(10_000);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain(`${corpus.unreadableFiles.length} file(s) could not be read`);
    for (const file of corpus.unreadableFiles) expect(run.stderr).toContain(file);
    expect(run.stderr).not.toMatch(/TypeError|RangeError|Maximum call stack|at .*\.js:\d+/);
  });

  it('valid + rejected = input: every valid event loaded once, every bad record quarantined', async () => {
    const facts = await query(ws.warehouse, 'SELECT event_id FROM fact_ai_event');
    expect(new Set(facts.map((r) => String(r.event_id)))).toEqual(corpus.validIds);
    expect(facts).toHaveLength(corpus.validIds.size);
    const [rejects] = await query(ws.warehouse, 'SELECT count(*) AS n FROM etl_rejected_event');
    expect(Number(rejects!.n), JSON.stringify(corpus.byKind)).toBe(corpus.rejected);
    const [read] = await query(ws.warehouse, 'SELECT sum(read) AS read, sum(rejected) AS rejected FROM etl_run_window');
    expect(Number(read!.read)).toBe(corpus.records);
    expect(Number(read!.rejected)).toBe(corpus.rejected);
  });

  it('every reject has a reason with a field path and a location naming file and line or item', async () => {
    const rejects = await query(
      ws.warehouse,
      'SELECT source_location, source_ref, reasons::VARCHAR AS reasons, payload FROM etl_rejected_event',
    );
    for (const r of rejects) {
      const where = `${String(r.source_location)} ${String(r.source_ref)}`;
      expect(String(r.source_location), where).toMatch(/\/inbox\/batch-\d{3}\.(jsonl|jsonl\.gz|json|csv)$/);
      expect(String(r.source_ref), where).toMatch(/^(line|item) \d+$/);
      const reasons = JSON.parse(String(r.reasons)) as { path: string; message: string }[];
      expect(reasons.length, where).toBeGreaterThan(0);
      for (const reason of reasons) {
        expect(reason.path, where).toBeTruthy();
        expect(reason.message, where).toBeTruthy();
      }
    }
    // Oversized records keep their first bytes only, and say how large they were.
    const oversized = rejects.filter((r) => String(r.reasons).includes('larger than'));
    expect(oversized).toHaveLength(corpus.byKind.oversized!);
    for (const r of oversized) expect(Buffer.byteLength(String(r.payload))).toBeLessThanOrEqual(1024);
  });

  it('unreadable files stay out of the file ledger, the others are in it', async () => {
    const ledger = await query(ws.warehouse, 'SELECT path FROM etl_file_ledger');
    const paths = new Set(ledger.map((r) => String(r.path)));
    for (const file of corpus.unreadableFiles) expect(paths.has(file)).toBe(false);
    expect(paths.size).toBe(24 - corpus.unreadableFiles.length + 2); // + the empty and the blank file
  });
});

describe('hostile input in-process: no prototype pollution, whatever the keys', () => {
  const ws = new Workspace();
  afterAll(() => ws.remove());

  it('records with __proto__, constructor and prototype keys are quarantined; no object prototype changes', async () => {
    writeFileSync(
      ws.path('proto.jsonl'),
      // Valid events but for the key: without the structural pass they would load.
      [
        // A computed key is an own property, so JSON.stringify writes it out.
        JSON.stringify(shapeA('a', 1, { ['__proto__']: { polluted: 'yes' } })),
        JSON.stringify(shapeA('b', 2, { metadata: { constructor: { prototype: { polluted: 'yes' } } } })),
        JSON.stringify(
          shapeA('c', 3, { policies_evaluated: [{ name: 'x', result: 'pass', ['__proto__']: { polluted: 'yes' } }] }),
        ),
      ].join('\n'),
    );
    writeFileSync(ws.path('proto.csv'), '__proto__,id,constructor\n"{""polluted"":""yes""}",d,x\n');
    const rules = { window: null, maxRecordBytes: 1024 ** 2, privacy: NO_PRIVACY, decisionAliases: {} };
    let rejected = 0;
    for (const file of ['proto.jsonl', 'proto.csv']) {
      for await (const records of readSourceFile(ws.path(file), rules.maxRecordBytes)) {
        const batch = validateBatch(records, rules);
        expect(batch.events).toEqual([]);
        rejected += batch.counts.rejected;
        for (const row of batch.rejects)
          expect(String(row[4])).toMatch(/"the key \\"(__proto__|constructor)\\" is not accepted anywhere"/);
      }
    }
    expect(rejected).toBe(4);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });
});

describe('line ends and empty files, read in-process', () => {
  const ws = new Workspace();
  afterAll(() => ws.remove());
  const read = async (name: string, content: string | Buffer) => {
    writeFileSync(ws.path(name), content);
    const records = [];
    for await (const batch of readSourceFile(ws.path(name), 1024 ** 2)) records.push(...batch);
    return records;
  };

  it('LF, CRLF, lone CR (also a CRLF split across read chunks) each end a line; blank lines count', async () => {
    const lone = await read('cr.jsonl', '{"a":1}\r{"a":2}\r\r{"a":3}');
    expect(lone.map((r) => [r.location.ref, r.kind === 'line' ? r.text : r.kind])).toEqual([
      ['line 1', '{"a":1}'],
      ['line 2', '{"a":2}'],
      ['line 4', '{"a":3}'],
    ]);
    // createReadStream reads 64 KiB at a time: put the CR last in the first chunk, its LF first in the next.
    const first = `{"pad":"${'x'.repeat(65_536 - 11)}"}`;
    const split = await read('split.jsonl', `${first}\r\n{"b":2}\n`);
    expect(Buffer.byteLength(first) + 1).toBe(65_536);
    expect(split.map((r) => r.location.ref)).toEqual(['line 1', 'line 2']);
  });

  it('an empty or blank .json file is an empty export, not an unreadable file', async () => {
    expect(await read('empty.json', '')).toEqual([]);
    expect(await read('blank.json', ' \n\t ')).toEqual([]);
    await expect(read('broken.json', '[{"a": 1},')).rejects.toThrow(/cannot be read to its end/);
  });
});

describe('an HTML error page instead of JSON from the Events API', () => {
  const ws = new Workspace();
  let server: LocalServer;
  let url = '';
  beforeAll(async () => {
    server = await serveLocal((_, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>502 Bad Gateway</body></html>'),
    );
    url = server.url;
  });
  afterAll(async () => {
    await server.close();
    ws.remove();
  });

  it('fails the run with exit 1 after bounded retries, naming the URL and what came back; nothing moves', async () => {
    const config = ws.writeConfig({ source: { kind: 'events_api', url, token: 'html-token', max_retries: 2 } });
    const run = await aetl(['run', '--config', config], { AETL_NOW: '2026-06-10T06:00:00Z' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${url}/v1/events returned a body that is not JSON: "<html><body>502 Bad Gateway`);
    expect(run.stderr).not.toMatch(/TypeError|at .*\.js:\d+|html-token/);
    expect(await query(ws.warehouse, 'SELECT * FROM etl_state')).toEqual([]);
  });
});

describe('an Export API that names its export with a path', () => {
  const ws = new Workspace();
  let server: LocalServer;
  let url = '';
  beforeAll(async () => {
    server = await serveLocal((req, res) => {
      const body = req.url!.includes('count=true') ? { count: 3 } : { id: '../../../tmp/evil', status: 'ready' };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    url = server.url;
  });
  afterAll(async () => {
    await server.close();
    ws.remove();
  });

  it('is refused before anything is downloaded: exit 1, the id named', async () => {
    const config = ws.writeConfig({ source: { kind: 'export_api', url, token: 'export-token' } });
    const run = await aetl(['run', '--config', config], { AETL_NOW: '2026-06-10T06:00:00Z' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('refusing the path segment "export-../../../tmp/evil.jsonl"');
  });
});
