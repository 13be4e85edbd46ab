import { appendFileSync, copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dialect } from '../../src/warehouse/dialect.js';
import { migrationFiles } from '../../src/warehouse/sql/migrations.js';
import { versionKey } from '../../src/transform/scd2.js';
import { aetl, spawnAetl, type CliResult, type RunningCli } from '../helpers/cli.js';
import { queryWith } from '../helpers/duckdb.js';
import { expectAggregatesExact } from '../helpers/aggregates.js';
import { ENGINES, type EngineUnderTest } from '../helpers/engines.js';
import { shapeA } from '../helpers/events.js';
import type { LocalServer } from '../helpers/local-server.js';
import { readmeFrom } from '../helpers/readme.js';
import { plain } from '../helpers/remote-e2e.js';
import { vendorApi } from '../helpers/vendor-api.js';
import { REFERENCE_PATHS, REPO, shippedReference, Workspace } from '../helpers/workspace.js';

/**
 * README "Engines: every command on every engine", as a test: every cell of
 * its command × engine table runs that command with the real CLI on that
 * engine (BigQuery and Snowflake through their real clients against the
 * stand-ins) and checks what it did. The cases are keyed by the README's own
 * names, so a command added to the table without a case here, or a case the
 * table no longer lists, fails. Each command is proven once, cheaply; the
 * engine-parametrised scenario files test the details.
 */

// ---- The README's table ----

const SECTION = '## Engines: every command on every engine';

/** A table row's cells (`\|` is a bar inside a cell). */
const cellsOf = (line: string) =>
  line
    .split(/(?<!\\)\|/)
    .slice(1, -1)
    .map((cell) => cell.trim().replaceAll('\\|', '|'));

/**
 * The names in a command cell: its comma-separated items, each the command in
 * backticks or a plain name, without a parenthesised gloss or the backticks
 * (`` `query NAME|FILE` ``, "schema drift (...)" → `query NAME|FILE`, `schema drift`).
 */
function commandNames(cell: string): string[] {
  const items: string[] = [];
  let item = '';
  let depth = 0;
  let code = false;
  for (const char of cell) {
    if (char === '`') code = !code;
    else if (!code && char === '(') depth++;
    else if (!code && char === ')') depth--;
    if (char === ',' && !code && depth === 0) {
      items.push(item);
      item = '';
    } else item += char;
  }
  items.push(item);
  return items.map((text) =>
    text
      .replace(/\(.*\)/, '')
      .replaceAll('`', '')
      .trim(),
  );
}

interface Matrix {
  /** The engine columns, lower-cased as ENGINES names them. */
  engines: string[];
  /** Each command's cell per engine, in the README's order. */
  commands: Map<string, Map<string, string>>;
}

function readmeMatrix(): Matrix {
  const lines = readmeFrom(SECTION);
  const first = lines.findIndex((line) => line.startsWith('|'));
  const table = lines.slice(
    first,
    lines.findIndex((line, i) => i > first && !line.startsWith('|')),
  );
  const [header, , ...rows] = table.map(cellsOf);
  const engines = header!.slice(1).map((name) => name.toLowerCase());
  const commands = new Map<string, Map<string, string>>();
  for (const [command, ...cells] of rows) {
    for (const name of commandNames(command!)) {
      commands.set(name, new Map(engines.map((engine, i) => [engine, cells[i]!])));
    }
  }
  return { engines, commands };
}

// ---- One engine's scenario: a vendor API the test controls, one workspace ----

/** The warehouse clock: the first incremental window is [08:00, 09:58), one package. */
const NOW = '2026-04-10T10:00:00Z';
const HOUR = ['--from', '2026-04-10T08:00:00Z', '--to', '2026-04-10T09:00:00Z'];
/** A user the reference data does not know (forget refuses known ones: the next sync would restore them). */
const GONE = 'user_gone';
/** A decision value the contract does not know yet: quarantined until an alias maps it. */
const WARNED = 'warned-1';
const OLD_DAY = '2026-02-01';

interface Summary {
  run_id: string;
  status: string;
  detail: Record<string, unknown>;
  checks: { name: string; status: string; observed: number | null }[];
}

interface Status {
  checkpoint: string;
  rejects: number;
  tables: Record<string, number>;
  drift: unknown[];
}

/** `top_users_by_cost` over the day of the events. */
const TOP_USERS = ['top_users_by_cost', '-p', 'from=2026-04-10', '-p', 'to=2026-04-11'];
const requestsByUser = (rows: Record<string, unknown>[]) =>
  Object.fromEntries(rows.map((r) => [String(r.user_id), Number(r.requests)]));

class Scenario {
  readonly ws = new Workspace();
  engine!: EngineUnderTest;
  api!: LocalServer;
  config = '';
  /** The vendor's events, changed by the cases as a vendor's data changes. */
  readonly events: Record<string, unknown>[] = [
    ...Array.from({ length: 8 }, (_, i) =>
      shapeA(`evt-${i}`, i, { user_id: i % 2 ? 'user_002' : 'user_001', ...(i < 2 ? { region_hint: 'eu' } : {}) }),
    ),
    shapeA('gone-1', 20, { user_id: GONE }),
    shapeA('gone-2', 21, { user_id: GONE }),
    shapeA(WARNED, 25, { decision: 'warned' }),
    shapeA('old-1', 0, { timestamp: `${OLD_DAY}T12:00:00Z` }),
    shapeA('old-2', 0, { timestamp: `${OLD_DAY}T12:05:00Z` }),
  ];
  /** The first run and `aetl status`, which later cases look back at. */
  firstRun!: Summary;
  status!: Status;
  /** `top_users_by_cost` on the warehouse, for the lake's to match. */
  topUsers: Record<string, unknown>[] = [];
  readonly running: RunningCli[] = [];

  async start(startEngine: (ws: Workspace) => Promise<EngineUnderTest>): Promise<void> {
    this.engine = await startEngine(this.ws);
    this.api = await vendorApi(this.events);
    copyFileSync(REFERENCE_PATHS.users, this.ws.path('users.csv')); // rebuild-dims gives a user history
    this.config = this.writeConfig();
  }

  writeConfig(overrides: Record<string, unknown> = {}, name = 'config.yaml'): string {
    return this.ws.writeConfig(
      {
        source: { kind: 'events_api', url: this.api.url, token: 'test-token' },
        warehouse: this.engine.warehouse,
        window: { initial_start: '2026-04-10T08:00:00Z' },
        // One reject in a dozen is the point; the clock stands still at NOW, so the newest event only ages.
        checks: { max_reject_rate: 0.5, freshness: { enabled: false } },
        reference: { ...REFERENCE_PATHS, users: this.ws.path('users.csv') },
        ...overrides,
      },
      name,
    );
  }

  get env(): Record<string, string> {
    return { ...this.engine.env, AETL_NOW: NOW };
  }

  /** The CLI with this scenario's config, JSON on stdout. */
  run(args: string[], config = this.config): Promise<CliResult> {
    return aetl([...args, '--json', '--config', config], this.env);
  }

  /** The CLI, which must succeed: its JSON output. */
  async json<T = Summary>(args: string[], config = this.config): Promise<T> {
    return ok<T>(await this.run(args, config));
  }

  rows(sql: string): Promise<Record<string, unknown>[]> {
    return this.engine.rows(sql).then(plain);
  }

  async factIds(where = 'true'): Promise<string[]> {
    const rows = await this.rows(`SELECT event_id FROM {s}fact_ai_event WHERE ${where} ORDER BY 1`);
    return rows.map((r) => String(r.event_id));
  }

  /** The vendor's event ids in [from, to), without the quarantined one. */
  validIds(from: string, to: string): string[] {
    return this.events
      .filter((e) => e.id !== WARNED && String(e.timestamp) >= from && String(e.timestamp) < to)
      .map((e) => String(e.id))
      .sort();
  }

  /** Adds a vendor event (one that arrived late, past any lookback). */
  arrives(id: string, minute: number): void {
    this.events.push(shapeA(id, minute));
  }

  async close(): Promise<void> {
    this.running.splice(0).forEach((run) => run.signal('SIGKILL'));
    await this.api?.close();
    await this.engine?.close();
    this.ws.remove();
  }
}

function ok<T>(result: CliResult): T {
  expect(result.code, `${result.stdout.slice(-3000)}\n${result.stderr.slice(-3000)}`).toBe(0);
  return JSON.parse(result.stdout) as T;
}

// ---- The registry: one case per README command name, in the order they run ----

/** How a command is shown to have worked on an engine, given its README cell. */
type Proof = (s: Scenario) => Promise<void>;

interface ParityCase {
  /** The command line an engine whose cell says it refuses the command must refuse up front. */
  refused: string[];
  /** The proof for each cell text the case knows: "yes", or an engine's own way (the run lock). */
  proofs: Record<string, Proof>;
}

const yes = (refused: string[], proof: Proof): ParityCase => ({ refused, proofs: { yes: proof } });

const CASES: Record<string, ParityCase> = {
  migrate: yes(['migrate'], async (s) => {
    const migrate = await s.run(['migrate']);
    expect(migrate.code, migrate.stderr).toBe(0);
    const versions = await s.rows('SELECT version FROM {s}etl_schema_version ORDER BY 1');
    const kind = s.engine.warehouse.kind as Dialect['name'];
    expect(versions.map((r) => r.version)).toEqual(migrationFiles(kind).map((file) => Number(file.slice(0, 3))));
    expect(await s.factIds()).toEqual([]);
  }),

  run: yes(['run'], async (s) => {
    s.firstRun = await s.json(['run']);
    expect(s.firstRun.status).toBe('succeeded');
    expect(await s.factIds()).toEqual(s.validIds('2026-04-10T08', '2026-04-10T10'));
    expect(await s.rows('SELECT event_id FROM {s}etl_rejected_event')).toEqual([{ event_id: WARNED }]);
  }),

  'reference sync': yes(['run'], async (s) => {
    // The run synced the reference CSVs first: each user's current version is the CSV's row.
    const csv = shippedReference().users.map((u) => ({ user_id: u.natural, ...u.attributes }));
    const ids = csv.map((u) => `'${u.user_id}'`).join(', ');
    const current = `SELECT user_id, team, department FROM {s}dim_user WHERE is_current AND user_id IN (${ids}) ORDER BY 1`;
    expect(await s.rows(current)).toEqual(csv);
  }),

  'run --from/--to': yes(['run', ...HOUR], async (s) => {
    s.arrives('late-1', 30);
    const run = await s.json(['run', ...HOUR]);
    expect(await s.factIds(`run_id = '${run.run_id}'`)).toEqual(['late-1']);
  }),

  'run --dry-run': yes(['run', '--dry-run', ...HOUR], async (s) => {
    s.arrives('dry-1', 35);
    const report = await s.json<{ days: { day: string; events: number }[] }>(['run', '--dry-run', ...HOUR]);
    expect(report.days).toMatchObject([
      { day: '2026-04-10', events: s.validIds('2026-04-10T08', '2026-04-10T09').length },
    ]);
    expect(await s.factIds("event_id = 'dry-1'")).toEqual([]);
  }),

  reconcile: yes(['reconcile', '--days', '1'], async (s) => {
    const run = await s.json(['reconcile', '--days', '1']);
    expect(await s.factIds(`run_id = '${run.run_id}'`)).toEqual(['dry-1']);
  }),

  backfill: yes(['backfill', '--from', OLD_DAY, '--to', '2026-02-02'], async (s) => {
    const run = await s.json(['backfill', '--from', OLD_DAY, '--to', '2026-02-02']);
    expect(run.detail).toEqual({ days: 1, already_done: 0, loaded: 1 });
    expect(await s.factIds(`run_id = '${run.run_id}'`)).toEqual(['old-1', 'old-2']);
  }),

  check: yes(['check', ...HOUR], async (s) => {
    const run = await s.json(['check', ...HOUR]);
    expect(run.checks.length).toBeGreaterThan(0);
    const stored = await s.rows(`SELECT check_name FROM {s}dq_check_result WHERE run_id = '${run.run_id}' ORDER BY 1`);
    expect(stored.map((r) => r.check_name)).toEqual(run.checks.map((c) => c.name).sort());
  }),

  status: yes(['status'], async (s) => {
    s.status = await s.json<Status>(['status']);
    const [facts] = await s.rows('SELECT count(*) AS n FROM {s}fact_ai_event');
    expect(s.status).toMatchObject({ checkpoint: '2026-04-10T09:58:00.000Z', rejects: 1 });
    expect(s.status.tables.fact_ai_event).toBe(facts!.n);
  }),

  // Read from the first run's checks and the `status` just shown.
  'schema drift': yes(['status'], async (s) => {
    expect(s.firstRun.checks.find((c) => c.name === 'schema_drift')).toMatchObject({ status: 'warn', observed: 1 });
    expect(await s.rows('SELECT field_path, seen_count FROM {s}etl_schema_drift')).toEqual([
      { field_path: 'region_hint', seen_count: 2 },
    ]);
    expect(s.status.drift).toMatchObject([{ field: 'region_hint', count: 2 }]);
  }),

  'runs show': yes(['runs', 'show', 'no-such-run'], async (s) => {
    const detail = await s.json<{ run: Record<string, unknown>; windows: unknown[] }>([
      'runs',
      'show',
      s.firstRun.run_id,
    ]);
    expect(detail.run).toMatchObject({ run_id: s.firstRun.run_id, command: 'run', status: 'succeeded' });
    expect(detail.windows).toHaveLength(1);
  }),

  report: yes(['report'], async (s) => {
    const out = s.ws.path('report.html');
    const report = await s.json<{ file: string; checks: number }>(['report', '--out', out]);
    // Its table lists the failures and warnings, the drift warning among them.
    const [flagged] = await s.rows(
      "SELECT count(*) AS n FROM {s}dq_check_result WHERE status IN ('fail', 'error', 'warn')",
    );
    expect(report).toEqual({ file: out, checks: flagged!.n, exit_code: 0 });
    expect(readFileSync(out, 'utf8')).toMatch(/<td>schema_drift<\/td>.*region_hint/);
  }),

  'rejects list': yes(['rejects', 'list'], async (s) => {
    const { rejects: listed } = await s.json<{ rejects: { event_id: string; run_id: string }[] }>(['rejects', 'list']);
    expect(listed).toMatchObject([{ event_id: WARNED, run_id: s.firstRun.run_id }]);
  }),

  'rejects replay': yes(['rejects', 'replay', '--all'], async (s) => {
    const aliased = s.writeConfig({ contract: { decision_aliases: { warned: 'allow' } } }, 'aliased.yaml');
    const run = await s.json(['rejects', 'replay', '--all'], aliased);
    expect(run.detail).toMatchObject({ examined: 1, replayed: 1, still_rejected: 0 });
    expect(await s.rows(`SELECT decision FROM {s}fact_ai_event WHERE run_id = '${run.run_id}'`)).toEqual([
      { decision: 'allow' },
    ]);
  }),

  replay: yes(['replay', ...HOUR], async (s) => {
    s.arrives('missed-1', 40);
    const run = await s.json(['replay', ...HOUR]);
    expect(run.detail).toMatchObject({ inserted: 1, replaced: 0 });
    expect(await s.factIds(`run_id = '${run.run_id}'`)).toEqual(['missed-1']);
  }),

  'replay --force-update': yes(['replay', ...HOUR, '--force-update'], async (s) => {
    const at = s.events.findIndex((e) => e.id === 'evt-3');
    s.events[at] = { ...s.events[at], cost_usd: 0.25 }; // the vendor corrected it
    const run = await s.json(['replay', ...HOUR, '--force-update']);
    expect(run.detail).toMatchObject({ inserted: 0, replaced: 1 });
    expect(
      await s.rows("SELECT run_id, cost_usd * 100 AS cents FROM {s}fact_ai_event WHERE event_id = 'evt-3'"),
    ).toEqual([{ run_id: run.run_id, cents: 25 }]);
    expect(await s.rows('SELECT event_id, resolution FROM {s}etl_conflict')).toEqual([
      { event_id: 'evt-3', resolution: 'replaced' },
    ]);
    // Here, not only at the end: a later forget recomputes the same day and would hide a miss.
    await expectAggregatesExact((sql) => s.rows(sql));
  }),

  'rebuild-dims': yes(['rebuild-dims'], async (s) => {
    // user_001 gained history: a new version from the day of the facts, so all of theirs re-key.
    appendFileSync(s.ws.path('users.csv'), 'user_001,research,science,2026-04-10\n');
    const theirs = `date_key >= 20260410 AND user_key IN (SELECT user_key FROM {s}dim_user WHERE user_id = 'user_001')`;
    const before = await s.factIds(theirs);
    const run = await s.json(['rebuild-dims']);
    expect(run.detail).toEqual({ rekeyed: before.length });
    const rekeyed = versionKey('dim_user', 'user_001', Date.parse('2026-04-10'));
    expect(await s.factIds(`user_key = ${rekeyed}`)).toEqual(before);
  }),

  'query NAME|FILE': yes(['query', 'top_users_by_cost'], async (s) => {
    s.topUsers = (await s.json<{ rows: Record<string, unknown>[] }>(['query', ...TOP_USERS])).rows;
    const expected = await s.rows(`SELECT u.user_id, count(*) AS requests FROM {s}fact_ai_event f
      JOIN {s}dim_user u ON u.user_key = f.user_key WHERE f.date_key = 20260410 GROUP BY 1`);
    expect(requestsByUser(s.topUsers)).toEqual(requestsByUser(expected));
    const file = join(REPO, 'sql', String(s.engine.warehouse.kind), 'queries', `${TOP_USERS[0]}.sql`);
    expect((await s.json<{ rows: Record<string, unknown>[] }>(['query', file, ...TOP_USERS.slice(1)])).rows).toEqual(
      s.topUsers,
    );
  }),

  'query --lake': yes(['query', 'top_users_by_cost', '--lake'], async (s) => {
    const inLake = await s.json<{ engine: string; rows: Record<string, unknown>[] }>(['query', ...TOP_USERS, '--lake']);
    expect(inLake.engine).toBe('duckdb');
    expect(requestsByUser(inLake.rows)).toEqual(requestsByUser(s.topUsers));
    expect(inLake.rows.map((r) => r.user_id)).toEqual(s.topUsers.map((r) => r.user_id));
  }),

  'Parquet lake at lake.path': yes(['run'], async (s) => {
    const inLake = await queryWith(
      ':memory:',
      `SELECT event_id FROM read_parquet('${s.ws.lake}/fact_ai_event/*/*.parquet') ORDER BY 1`,
      {},
    );
    expect(inLake.map((r) => r.event_id)).toEqual(await s.factIds());
  }),

  compact: yes(['compact'], async (s) => {
    await s.json(['compact']);
    // Every fact partition is one file, holding what the warehouse holds.
    const table = join(s.ws.lake, 'fact_ai_event');
    for (const partition of readdirSync(table)) expect(readdirSync(join(table, partition)), partition).toHaveLength(1);
    const inLake = await queryWith(
      ':memory:',
      `SELECT event_id FROM read_parquet('${table}/*/*.parquet') ORDER BY 1`,
      {},
    );
    expect(inLake.map((r) => r.event_id)).toEqual(await s.factIds());
  }),

  doctor: yes(['doctor'], async (s) => {
    const report = await s.json<{ ok: boolean; checks: { check: string; status: string }[] }>(['doctor']);
    expect(report.ok).toBe(true);
    expect(report.checks.length).toBeGreaterThan(0);
  }),

  forget: yes(['forget', '--user', GONE, '--yes'], async (s) => {
    const run = await s.json(['forget', '--user', GONE, '--yes']);
    expect(run.status).toBe('succeeded');
    expect(await s.factIds("event_id LIKE 'gone-%'")).toEqual([]);
    expect(await s.rows(`SELECT count(*) AS n FROM {s}dim_user WHERE user_id = '${GONE}'`)).toEqual([{ n: 0 }]);
    expect(await s.rows('SELECT count(*) AS n FROM {s}etl_erasure')).toEqual([{ n: 1 }]);
  }),

  'accept-loss': yes(['accept-loss', ...HOUR, '--reason', 'vendor outage'], async (s) => {
    await s.json(['accept-loss', ...HOUR, '--reason', 'vendor outage', '--accepted-by', 'ops']);
    const stored = await s.rows('SELECT epoch_ms(from_ts) AS from_ms, reason, accepted_by FROM {s}etl_accepted_loss');
    expect(stored).toEqual([{ from_ms: Date.parse(HOUR[1]!), reason: 'vendor outage', accepted_by: 'ops' }]);
    const status = await s.json<{ accepted_losses: { reason: string }[] }>(['status']);
    expect(status.accepted_losses.map((l) => l.reason)).toEqual(['vendor outage']);
  }),

  'retention [--apply] [--archive]': yes(['retention', '--older-than', '30d'], async (s) => {
    const plan = await s.json<{ cutoff: string; applied: boolean }>(['retention', '--older-than', '30d']);
    expect(plan).toMatchObject({ cutoff: '2026-03-11', applied: false });
    expect(await s.factIds(`date_key < 20260311`)).toEqual(['old-1', 'old-2']);
    const archive = s.ws.path('archive');
    await s.json(['retention', '--older-than', '30d', '--apply', '--archive', archive]);
    expect(await s.factIds(`date_key < 20260311`)).toEqual([]);
    const archived = await queryWith(
      ':memory:',
      `SELECT event_id FROM read_parquet('${archive}/fact_ai_event/*/*.parquet') ORDER BY 1`,
      {},
    );
    expect(archived.map((r) => r.event_id)).toEqual(['old-1', 'old-2']);
  }),

  'state show|set-checkpoint|reset': yes(['state', 'show'], async (s) => {
    const state = () => s.rows('SELECT epoch_ms(checkpoint) AS ms, run_id FROM {s}etl_state');
    const show = await s.json<{ checkpoint: string; ledger_files: number }>(['state', 'show']);
    const [before] = await state();
    expect(show.checkpoint).toBe(new Date(Number(before!.ms)).toISOString());
    const set = await s.json(['state', 'set-checkpoint', '2026-04-10T09:00:00Z', '--yes']);
    expect(await state()).toEqual([{ ms: Date.parse('2026-04-10T09:00:00Z'), run_id: set.run_id }]);
    await s.json(['state', 'reset', '--yes']);
    expect(await state()).toEqual([]);
  }),

  'run lock': {
    refused: ['run'],
    proofs: {
      'file beside the database': (s) =>
        provesLock(s, () => {
          const file = `${s.ws.warehouse}.lock`;
          return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { runId: string }).runId : null;
        }),
      '`etl_lock` lease + fencing token': (s) =>
        provesLock(s, async () => {
          const live = await s.rows('SELECT owner, token FROM {s}etl_lock WHERE expires_at > now()').catch(() => []);
          expect(live.every((row) => Number(row.token) > 0)).toBe(true);
          return live.length > 0 ? String(live[0]!.owner) : null;
        }),
    },
  },
};

/**
 * A run started while another holds the lock (a `check` paused before its end)
 * is refused naming the holder, whom `holder` reads from where the engine keeps
 * the lock (null while nobody holds it).
 */
async function provesLock(s: Scenario, holder: () => Promise<string | null> | string | null): Promise<void> {
  const paused = spawnAetl(['check', '--config', s.config], {
    ...s.env,
    AETL_FAILPOINT: 'run:before-finish',
    AETL_FAILPOINT_SIGNAL: 'SIGSTOP',
  });
  s.running.push(paused);
  let owner: string | null = null;
  for (let i = 0; i < 300 && owner === null; i++) {
    owner = await holder();
    if (owner === null) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(owner, 'the paused check never held the lock').not.toBeNull();
  const refused = await s.run(['run']);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(`another run holds the lock`);
  expect(refused.stderr).toContain(owner!);
  paused.signal('SIGKILL');
  await paused.done; // gone, and its hold on the warehouse with it, before the next case opens it
}

// ---- The tests ----

const matrix = readmeMatrix();

describe('the README engine matrix and this test name the same commands and engines', () => {
  it('every case is a command the README lists', () => {
    const unlisted = Object.keys(CASES).filter((name) => !matrix.commands.has(name));
    expect(unlisted, 'cases for commands the README matrix does not list').toEqual([]);
  });

  it('every engine column is an engine under test, and every engine under test a column', () => {
    expect([...matrix.engines].sort()).toEqual(ENGINES.map((e) => e.name).sort());
  });
});

describe.each(ENGINES)('every README command on $name', ({ name, start }) => {
  const s = new Scenario();
  beforeAll(() => s.start(start), 60_000);
  afterAll(() => s.close());

  // The registry's order is the order they run in: each builds on the warehouse the last left.
  const ordered = [
    ...Object.keys(CASES).filter((command) => matrix.commands.has(command)),
    ...[...matrix.commands.keys()].filter((command) => !(command in CASES)),
  ];
  for (const command of ordered) {
    const cell = matrix.commands.get(command)!.get(name) ?? '(no column)';
    it(`${command}: ${cell}`, async () => {
      const parity = CASES[command];
      if (!parity) throw new Error(`README lists ${command} but the parity test has no case`);
      if (/^(no|refuses)\b/i.test(cell)) {
        const refused = await s.run(parity.refused);
        expect(refused.code, 'a command the engine refuses exits 2 up front').toBe(2);
        expect(refused.stderr.trim(), 'with a reason').not.toBe('');
        return;
      }
      const proof = parity.proofs[cell];
      if (!proof)
        throw new Error(`README says "${cell}" for ${command} on ${name}; the parity test has no proof of that`);
      await proof(s);
    });
  }

  it('the hourly aggregates equal the facts grouped by hour after every command (replay --force-update, forget, retention among them)', () =>
    expectAggregatesExact((sql) => s.rows(sql)));
});
