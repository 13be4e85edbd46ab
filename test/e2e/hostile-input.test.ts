import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEPT_BYTES } from '../../src/contract/event.js';
import { NO_PRIVACY } from '../../src/contract/privacy.js';
import { readSourceFile } from '../../src/source/files.js';
import { validateBatch } from '../../src/staging/validate-batch.js';
import { aetl, type CliResult } from '../helpers/cli.js';
import { query, scalar } from '../helpers/duckdb.js';
import {
  MAX_RECORD_BYTES,
  writeHostileCorpus,
  writeHostileFile,
  type Corpus,
  type HostileFile,
} from '../helpers/hostile-corpus.js';
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
    for (const r of oversized) expect(Buffer.byteLength(String(r.payload))).toBeLessThanOrEqual(KEPT_BYTES);
  });

  it('unreadable files stay out of the file ledger, the others are in it', async () => {
    const ledger = await query(ws.warehouse, 'SELECT path FROM etl_file_ledger');
    const paths = new Set(ledger.map((r) => String(r.path)));
    for (const file of corpus.unreadableFiles) expect(paths.has(file)).toBe(false);
    expect(paths.size).toBe(24 - corpus.unreadableFiles.length + 2); // + the empty and the blank file
  });
});

const MB = 1024 ** 2;

/** Runs the CLI with a preload that writes the process's peak RSS (bytes) to a file at exit. */
async function runMeasured(ws: Workspace, config: string): Promise<CliResult & { peakRss: number }> {
  const preload = ws.path('peak-rss.mjs');
  const out = ws.path('peak-rss.txt');
  writeFileSync(
    preload,
    `import { writeFileSync } from 'node:fs';\n` +
      `process.on('exit', () => writeFileSync(${JSON.stringify(out)}, String(process.resourceUsage().maxRSS * 1024)));\n`,
  );
  const run = await aetl(['run', '--config', config, '--json'], { NODE_OPTIONS: `--import=${preload}` }, 180_000);
  return { ...run, peakRss: Number(readFileSync(out, 'utf8')) };
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('one hostile file of a few MB: huge fields, deep nesting, bad UTF-8 and NULs between valid lines', () => {
  const ws = new Workspace();
  let file: HostileFile;
  let run: CliResult & { peakRss: number };

  beforeAll(async () => {
    file = writeHostileFile(ws.path('hostile.jsonl'), MB);
    const config = ws.writeConfig({
      source: { kind: 'files', files: ws.path('hostile.jsonl') },
      checks: { max_reject_rate: 0.1 },
    });
    run = await runMeasured(ws, config);
  }, 240_000);
  afterAll(() => ws.remove());

  it('exits 0 with every valid line loaded, exactly', async () => {
    expect(readFileSync(ws.path('hostile.jsonl')).length).toBeGreaterThan(5 * MB);
    expect(run.code, run.stderr).toBe(0);
    const facts = await query(ws.warehouse, 'SELECT event_id FROM fact_ai_event ORDER BY event_id');
    expect(facts.map((r) => String(r.event_id))).toEqual([...file.validIds].sort());
  });

  it('quarantines each hostile line with at most 64 KiB of it, its full length and the SHA-256 of its bytes', async () => {
    const rejects = await query(
      ws.warehouse,
      `SELECT source_ref, payload, payload_bytes, payload_sha256, payload_truncated, reasons::VARCHAR AS reasons
       FROM etl_rejected_event`,
    );
    expect(rejects.map((r) => String(r.source_ref)).sort()).toEqual(file.hostile.map((h) => h.ref).sort());
    for (const line of file.hostile) {
      const r = rejects.find((x) => x.source_ref === line.ref)!;
      const what = `${line.kind} (${line.ref})`;
      const stored = Buffer.from(String(r.payload));
      expect(stored.length, what).toBeLessThanOrEqual(KEPT_BYTES);
      expect(Number(r.payload_bytes), what).toBe(line.bytes.length);
      expect(r.payload_sha256, what).toBe(sha256(line.bytes));
      expect(r.payload_truncated, what).toBe(line.bytes.length > KEPT_BYTES);
      // The payload is the line's start as text (bytes that are not UTF-8 shown as U+FFFD), NULs included.
      const asText = Buffer.from(line.bytes.toString('utf8'));
      if (line.bytes.length > KEPT_BYTES) expect(stored.length, what).toBeGreaterThan(KEPT_BYTES - 4);
      expect(stored.equals(asText.subarray(0, stored.length)), what).toBe(true);
      // Reasons name fields and what is wrong, never the data: a few, each short.
      const reasons = JSON.parse(String(r.reasons)) as { path: string; message: string }[];
      expect(reasons.length, what).toBeLessThanOrEqual(21);
      for (const reason of reasons) expect(reason.path.length + reason.message.length, what).toBeLessThan(700);
    }
  });

  it('peaks under 400 MB of RSS', () => {
    expect(run.peakRss).toBeGreaterThan(0);
    expect(run.peakRss).toBeLessThan(400 * MB);
  });

  it('replay leaves the truncated payloads in quarantine, even one whose first 64 KiB parse as a valid event', async () => {
    const replay = await aetl(['rejects', 'replay', '--all', '--json', '--config', ws.path('config.yaml')]);
    expect(replay.code, replay.stderr).toBe(0);
    const truncated = file.hostile.filter((h) => h.bytes.length > KEPT_BYTES).length;
    const { detail } = JSON.parse(replay.stdout) as { detail: Record<string, number> };
    expect(detail).toEqual({
      examined: file.hostile.length,
      replayed: 0,
      still_rejected: file.hostile.length,
      truncated,
    });
    expect(await query(ws.warehouse, "SELECT event_id FROM fact_ai_event WHERE event_id LIKE 'cut-%'")).toEqual([]);
    const list = await aetl(['rejects', 'list', '--json', '--config', ws.path('config.yaml')]);
    const { rejects: rows } = JSON.parse(list.stdout) as {
      rejects: { payload_truncated: boolean; payload_bytes: number; replayed_at: unknown }[];
    };
    expect(rows).toHaveLength(file.hostile.length);
    expect(rows.filter((r) => r.payload_truncated)).toHaveLength(truncated);
    expect(rows.every((r) => r.payload_bytes > 0 && r.replayed_at === null)).toBe(true);
  });
});

describe('the same hostile file over the reject rate, and with a 64MB warehouse memory limit', () => {
  const workspaces: Workspace[] = [];
  afterAll(() => workspaces.forEach((ws) => ws.remove()));
  const hostileRun = async (overrides: Record<string, unknown>) => {
    const ws = new Workspace();
    workspaces.push(ws);
    const file = writeHostileFile(ws.path('hostile.jsonl'), MB);
    const config = ws.writeConfig({ source: { kind: 'files', files: ws.path('hostile.jsonl') }, ...overrides });
    const run = await aetl(['run', '--config', config], {}, 180_000);
    const count = async (table: string) => Number(await scalar(ws.warehouse, `SELECT count(*) FROM ${table}`));
    return { file, run, facts: await count('fact_ai_event'), rejects: await count('etl_rejected_event') };
  };

  it('over max_reject_rate: exit 1, yet the valid lines are loaded and the rejects saved', async () => {
    const { file, run, facts, rejects } = await hostileRun({ checks: { max_reject_rate: 0.01 } });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/reject/);
    expect(facts).toBe(file.validIds.length);
    expect(rejects).toBe(file.hostile.length);
  }, 200_000);

  it('with warehouse.memory_limit 64MB the run still succeeds', async () => {
    const { file, run, facts, rejects } = await hostileRun({
      warehouse: { kind: 'duckdb', path: 'data/warehouse.duckdb', memory_limit: '64MB' },
      checks: { max_reject_rate: 0.1 },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(facts).toBe(file.validIds.length);
    expect(rejects).toBe(file.hostile.length);
  }, 200_000);
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
