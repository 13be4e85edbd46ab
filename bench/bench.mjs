// npm run bench [-- --events 1000000 --shape mixed --bad 1% --runs 3 --only pipeline|day-increment|checks|incremental]
// Generates the input deterministically, runs each scenario in its own child process (so peak
// RSS is per scenario), prints a table and writes bench/results.json. See BENCHMARKS.md.
import { spawn } from 'node:child_process';
import {
  cpSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { simulatorSettingsFrom } from '../dist/config/schema.js';
import { loadReferenceData } from '../dist/reference/reference-data.js';
import { EventUniverse } from '../dist/simulator/generator.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    shape: { type: 'string', default: 'mixed' },
    bad: { type: 'string', default: '0%' },
    runs: { type: 'string', default: '1' },
    /** Also time all checks over a synthetic fact of this many rows (e.g. 10000000); 0 = skip. */
    'check-rows': { type: 'string', default: '0' },
    /** The day-increment scenario: this many events loaded into a day already holding `day-events`. */
    'increment-events': { type: 'string', default: '20000' },
    'day-events': { type: 'string', default: '300000' },
    /**
     * Run only one scenario of issue 19: pipeline (from files and from HTTP: peak RSS at 1M or 10M events),
     * day-increment, checks (the synthetic fact) or incremental (15 minutes).
     */
    only: { type: 'string' },
  },
});
if (values.only !== undefined && !['pipeline', 'day-increment', 'checks', 'incremental'].includes(values.only))
  throw new Error('--only takes pipeline, day-increment, checks or incremental');
if (values.only === 'checks' && Number(values['check-rows']) <= 0) throw new Error('--only checks needs --check-rows');
const events = Number(values.events);
const bad = Number(values.bad.replace('%', '')) / 100;
const runs = Number(values.runs);
if (!['mixed', 'a', 'b'].includes(values.shape)) throw new Error('--shape is mixed, a or b');

const RATE = 3400; // events per minute: a 15-minute window holds ~50k events
const work = join(here, '.work');
mkdirSync(work, { recursive: true });
const reference = {
  users: join(repo, 'config/reference/users.csv'),
  gateways: join(repo, 'config/reference/gateways.csv'),
  models: join(repo, 'config/reference/models.csv'),
};

/** The input: `count` simulator payloads from 2026-01-01, one JSON line each. */
async function generate(count) {
  const file = join(work, `events-${count}-${values.shape}-${bad}.jsonl`);
  const start = Date.parse('2026-01-01T00:00:00Z');
  if (existsSync(file)) return { file, start, end: JSON.parse(readFileSync(`${file}.meta`, 'utf8')).end };
  const universe = new EventUniverse(
    simulatorSettingsFrom({ seed: 2026, rate_per_minute: RATE, bad_record_rate: bad }),
    loadReferenceData(reference),
  );
  const out = createWriteStream(file);
  let written = 0;
  let minute = start / 60_000;
  while (written < count) {
    for (const e of universe.eventsInMinute(minute)) {
      const isA = 'user_id' in e.payload || 'cost_usd' in e.payload;
      if (values.shape !== 'mixed' && isA !== (values.shape === 'a')) continue;
      if (written === count) break;
      if (!out.write(`${JSON.stringify(e.payload)}\n`)) await new Promise((r) => out.once('drain', r));
      written++;
    }
    minute++;
  }
  await new Promise((r) => out.end(r));
  const end = minute * 60_000;
  writeFileSync(`${file}.meta`, JSON.stringify({ end }));
  return { file, start, end };
}

function child(name, module, args, env = {}) {
  const report = join(work, `${name}.report.json`);
  rmSync(report, { force: true });
  return new Promise((resolvePromise, reject) => {
    const proc = spawn(process.execPath, [join(here, 'child.mjs'), report, module, ...args], {
      env: { ...process.env, NO_PROXY: '127.0.0.1,localhost', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (c) => (stderr += c));
    proc.on('close', () => {
      if (!existsSync(report)) return reject(new Error(`${name} produced no report:\n${stderr.slice(-2000)}`));
      const result = JSON.parse(readFileSync(report, 'utf8'));
      if (result.code !== 0 && result.code !== 3)
        return reject(new Error(`${name} exited ${result.code}:\n${stderr.slice(-2000)}`));
      resolvePromise(result);
    });
  });
}

/** Writes a config for `source` into `dir`, emptied first unless `keep` (it holds a copied warehouse). */
function config(dir, source, extra = {}, keep = false) {
  if (!keep) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'config.yaml');
  writeFileSync(
    file,
    stringify({
      source,
      warehouse: { kind: 'duckdb', path: 'warehouse.duckdb' },
      lake: { path: 'lake' },
      staging: { path: 'staging' },
      reference,
      checks: { max_reject_rate: 0.05, freshness: { enabled: false } },
      ...extra,
    }),
  );
  return file;
}

async function withPagesServer(input, work) {
  const portFile = join(work, 'pages.port');
  rmSync(portFile, { force: true });
  const server = spawn(process.execPath, [join(here, 'pages-server.mjs'), input, portFile], { stdio: 'ignore' });
  for (let i = 0; i < 600 && !existsSync(portFile); i++) await new Promise((r) => setTimeout(r, 50));
  return { url: `http://127.0.0.1:${readFileSync(portFile, 'utf8')}`, stop: () => server.kill('SIGTERM') };
}

/** Records of the input whose timestamp falls in [fromMs, toMs); read line by line (a 10M input is ~4.7 GB). */
async function countBetween(file, fromMs, toMs) {
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    const t = Date.parse(/"timestamp":"([^"]+)"/.exec(line)?.[1]);
    if (t >= fromMs && t < toMs) n++;
  }
  return n;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(name, count, bytes, once, times = runs) {
  const samples = [];
  for (let i = 0; i < times; i++) samples.push(await once());
  const wallMs = median(samples.map((s) => s.wallMs));
  return {
    scenario: name,
    events: count,
    wallS: wallMs / 1000,
    eventsPerS: count / (wallMs / 1000),
    mbPerS: bytes / 1e6 / (wallMs / 1000),
    peakRssMb: Math.max(...samples.map((s) => s.peakRssMb)),
    cpuS: median(samples.map((s) => s.cpuMs)) / 1000,
    runs: times,
  };
}

const cli = join(repo, 'dist/cli/main.js');
const results = [];

/** Scenarios 1-6 over the `--events` input; with `--only pipeline`, 2 and 3 (from files, from HTTP). */
async function standardScenarios() {
  const all = values.only === undefined;
  const input = await generate(events);
  const bytes = statSync(input.file).size;
  const nowAfter = new Date(input.end + 10 * 60_000).toISOString();

  if (all) {
    results.push(
      await measure('duckdb-native bound', events, bytes, () =>
        child('native', join(here, 'native.mjs'), [input.file, join(work, 'native')]),
      ),
    );
  }

  const filesConfig = () => config(join(work, 'files'), { kind: 'files', files: input.file });
  results.push(
    await measure('pipeline from files', events, bytes, () =>
      child('files', cli, ['run', '--log-level', 'warn', '--config', filesConfig()]),
    ),
  );

  const pages = await withPagesServer(input.file, work);
  try {
    const apiSource = { kind: 'events_api', url: pages.url, token: 'bench', page_size: 5000 };
    const window = {
      initial_start: new Date(input.start).toISOString(),
      max_window: '30d',
      lookback: '1h',
      max_windows: 1,
    };
    results.push(
      await measure('pipeline from HTTP', events, bytes, () =>
        child(
          'http',
          cli,
          ['run', '--log-level', 'warn', '--config', config(join(work, 'http'), apiSource, { window })],
          { AETL_NOW: nowAfter },
        ),
      ),
    );
    if (all) results.push(await incrementalWindow(input, apiSource, nowAfter));
  } finally {
    pages.stop();
  }

  if (!all) return;
  const checkArgs = [
    'check',
    '--from',
    new Date(input.start).toISOString(),
    '--to',
    new Date(input.end).toISOString(),
    '--log-level',
    'warn',
  ];
  results.push(
    await measure(`all checks over a ${events}-row fact`, events, 0, () =>
      child('checks', cli, [...checkArgs, '--config', join(work, 'files', 'config.yaml')], { AETL_NOW: nowAfter }),
    ),
  );
}

/** Scenario 4: `aetl run --from --to` over the first 15 minutes of the input, on a fresh warehouse. */
async function incrementalWindow(input, apiSource, nowAfter) {
  const from = new Date(input.start).toISOString();
  const to = new Date(Math.min(input.end, input.start + 15 * 60_000)).toISOString();
  const windowEvents = await countBetween(input.file, Date.parse(from), Date.parse(to));
  const args = ['run', '--from', from, '--to', to, '--log-level', 'warn'];
  return measure('15-min incremental window + checks', windowEvents, 0, () =>
    child('incremental', cli, [...args, '--config', config(join(work, 'incremental'), apiSource)], {
      AETL_NOW: nowAfter,
    }),
  );
}

/** Scenario 4 alone (`--only incremental`), from an input of `--events`. */
async function incrementalOnly() {
  const input = await generate(events);
  const pages = await withPagesServer(input.file, work);
  try {
    const apiSource = { kind: 'events_api', url: pages.url, token: 'bench', page_size: 5000 };
    results.push(await incrementalWindow(input, apiSource, new Date(input.end + 10 * 60_000).toISOString()));
  } finally {
    pages.stop();
  }
}

/**
 * Scenario 6: all checks over a synthetic `--check-rows` fact (`bench/synthetic-fact.mjs`), as a
 * deployment sees them: the first `aetl check` reads every hour and records it verified (reported as
 * "first check", once), then the timed check re-reads only what changed since (nothing here).
 */
async function syntheticChecks(checkRows) {
  const dir = join(work, 'synthetic');
  const cfg = config(dir, { kind: 'files', files: join(dir, 'none') });
  await new Promise((r) =>
    spawn(process.execPath, [cli, 'migrate', '--config', cfg], { stdio: 'ignore' }).on('close', r),
  );
  const filled = await new Promise((r) =>
    spawn(process.execPath, [join(here, 'synthetic-fact.mjs'), join(dir, 'warehouse.duckdb'), String(checkRows)], {
      stdio: 'inherit',
    }).on('close', r),
  );
  if (filled !== 0) throw new Error('the synthetic fact could not be written');
  const range = ['--from', '2026-01-01', '--to', '2026-01-15'];
  const check = () =>
    child('synthetic-checks', cli, ['check', ...range, '--log-level', 'warn', '--config', cfg], {
      AETL_NOW: '2026-01-20T00:00:00Z',
    });
  results.push(
    await measure(
      `first check over a synthetic ${checkRows}-row fact (reads and verifies every hour)`,
      checkRows,
      0,
      check,
      1,
    ),
  );
  results.push(
    await measure(`all checks over a synthetic ${checkRows}-row fact (after the first)`, checkRows, 0, check),
  );
}

/** Splits the first `first` lines of `file` from the rest into two files beside it. */
function splitLines(file, first) {
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const [head, tail] = [file.replace(/\.jsonl$/, '-head.jsonl'), file.replace(/\.jsonl$/, '-tail.jsonl')];
  writeFileSync(head, `${lines.slice(0, first).join('\n')}\n`);
  writeFileSync(tail, `${lines.slice(first).join('\n')}\n`);
  return { head, tail };
}

/**
 * Scenario 7 (issue 19): `increment-events` loaded into a day that already holds `day-events`
 * (3,400 events a minute: both fit in 2026-01-01), against the same load into an empty
 * warehouse. The full day is loaded once into a template, copied before each timed run.
 */
async function dayIncrement() {
  const base = Number(values['day-events']);
  const increment = Number(values['increment-events']);
  const input = await generate(base + increment);
  const { head, tail } = splitLines(input.file, base);
  const template = join(work, 'day-template');
  await child('day-template', cli, [
    'run',
    '--log-level',
    'warn',
    '--config',
    config(template, { kind: 'files', files: head }),
  ]);
  const into = (name, copy) => () => {
    const dir = join(work, name);
    rmSync(dir, { recursive: true, force: true });
    if (copy) cpSync(template, dir, { recursive: true, verbatimSymlinks: true });
    const file = config(dir, { kind: 'files', files: tail }, {}, true);
    return child(name, cli, ['run', '--log-level', 'warn', '--config', file]);
  };
  const empty = await measure(`${increment} into an empty warehouse`, increment, 0, into('day-empty', false));
  const full = await measure(`${increment} into a day holding ${base}`, increment, 0, into('day-full', true));
  full.ratioToEmpty = full.wallS / empty.wallS;
  return [empty, full];
}

const checkRows = Number(values['check-rows']);
if (values.only === undefined || values.only === 'pipeline') await standardScenarios();
if ((values.only === undefined || values.only === 'checks') && checkRows > 0) await syntheticChecks(checkRows);
if (values.only === 'incremental') await incrementalOnly();
if (values.only === undefined || values.only === 'day-increment') results.push(...(await dayIncrement()));

const native = results.find((r) => r.scenario === 'duckdb-native bound')?.eventsPerS;
for (const r of results) r.ratioToNative = native === undefined ? null : r.eventsPerS / native;
const machine = {
  cpus: cpus().length,
  cpu: cpus()[0]?.model,
  memoryGb: Math.round(totalmem() / 2 ** 30),
  node: process.version,
};
writeFileSync(
  join(here, 'results.json'),
  `${JSON.stringify({ date: new Date().toISOString(), machine, args: values, results }, null, 2)}\n`,
);

const row = (cells) => cells.map((c, i) => String(c).padEnd([38, 10, 9, 12, 8, 10, 11, 8][i])).join(' ');
console.log(row(['scenario', 'events', 'wall s', 'events/s', 'MB/s', 'x native', 'peak RSS', 'cpu s']));
for (const r of results) {
  console.log(
    row([
      r.scenario,
      r.events,
      r.wallS.toFixed(2),
      Math.round(r.eventsPerS).toLocaleString('en-US'),
      r.mbPerS ? r.mbPerS.toFixed(1) : '-',
      r.ratioToNative?.toFixed(2) ?? '-',
      `${Math.round(r.peakRssMb)} MB`,
      r.cpuS.toFixed(1),
    ]),
  );
}
for (const r of results.filter((r) => r.ratioToEmpty !== undefined)) {
  console.log(`${r.scenario}: ${r.ratioToEmpty.toFixed(2)}x the same load into an empty warehouse`);
}
