import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { aetl, spawnAetl, type CliResult } from '../helpers/cli.js';
import { REPO, Workspace } from '../helpers/workspace.js';

/**
 * DESIGN.md decision 24: every command prints exactly one JSON object with --json, on success
 * and on failure, valid against config/schemas/cli-output.schema.json, snake_case at every depth,
 * instants ISO-8601 UTC. Every command the program registers must have a schema and be run here.
 */
const SCHEMA = JSON.parse(readFileSync(join(REPO, 'config/schemas/cli-output.schema.json'), 'utf8')) as {
  $id: string;
  $defs: { commands: Record<string, unknown> };
};
const ajv = new Ajv2020({ allErrors: true, strict: true });
ajv.addSchema(SCHEMA);

const NOW = '2026-04-01T03:00:00Z';
const SECRET = 'sk-json-contract-9c4e1b';
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const LOOKS_LIKE_INSTANT = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/;

type Json = Record<string, unknown>;

/** Every key snake_case and every instant-like string ISO-8601 UTC, at every depth; the paths that are not. */
function offences(value: unknown, path = '$'): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => offences(v, `${path}[${i}]`));
  if (typeof value === 'string') return LOOKS_LIKE_INSTANT.test(value) && !ISO_UTC.test(value) ? [path] : [];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, v]) => [
    ...(/^[a-z][a-z0-9_]*$/.test(key) ? [] : [`${path}.${key}`]),
    ...offences(v, `${path}.${key}`),
  ]);
}

/** The program's leaf commands, as typed (`state show`): each one is a `$defs/commands` entry. */
function leafCommands(command: Command, prefix: string[] = []): string[] {
  return command.commands.flatMap((sub) => {
    const path = [...prefix, sub.name()];
    return sub.commands.length === 0 ? [path.join(' ')] : leafCommands(sub, path);
  });
}

const covered = new Set<string>();

/** A warehouse, lake and staging of their own, for a config that must not see the shared workspace's. */
const apart = (dir: string) => ({
  warehouse: { kind: 'duckdb', path: `${dir}/warehouse.duckdb` },
  lake: { path: `${dir}/lake` },
  staging: { path: `${dir}/staging` },
});

/** `result`'s stdout as the one object the contract promises for `name`, checked every way; returns it. */
function contract(name: string, result: CliResult): Json {
  const parsed = JSON.parse(result.stdout) as unknown;
  expect(parsed, result.stdout).toBeTypeOf('object');
  expect(Array.isArray(parsed)).toBe(false);
  const json = parsed as Json;
  const validate = ajv.getSchema(`${SCHEMA.$id}#/$defs/commands/${encodeURIComponent(name)}`);
  expect(validate, `no schema for ${name}`).toBeDefined();
  expect(validate!(json), `${name}: ${JSON.stringify(validate!.errors)}`).toBe(true);
  expect(offences(json)).toEqual([]);
  expect(json.exit_code).toBe(result.code);
  if (result.code !== 0) expect(json.error).toMatchObject({ kind: expect.any(String), message: expect.any(String) });
  expect(result.stdout).not.toContain(SECRET);
  covered.add(name);
  return json;
}

describe('one JSON contract for --json', () => {
  const ws = new Workspace();
  const config = ws.writeConfig({
    source: { kind: 'simulator', simulator: { seed: 7, rate_per_minute: 1 } },
    window: { initial_start: '2026-04-01T00:00:00Z' },
    schedule: { jobs: { hourly: { command: 'run', cron: '0 * * * *' } } },
  });
  const cli = (args: string[], env: Record<string, string> = {}) =>
    aetl([...args, '--json', '--config', config], { AETL_NOW: NOW, ...env });
  let run: Json;

  beforeAll(async () => {
    run = contract('run', await cli(['run']));
  }, 60_000);
  afterAll(() => ws.remove());

  it('run: the summary with snake_case counts that balance, its window and checkpoint as instants', () => {
    const totals = run.totals as Record<string, number>;
    expect(totals.read).toBeGreaterThan(100);
    expect(totals.read).toBe(
      totals.inserted! +
        totals.already_present! +
        totals.in_batch_duplicates! +
        totals.rejected! +
        totals.out_of_window!,
    );
    const [window] = run.windows as { window: { start: string; end: string } }[];
    expect(window!.window).toEqual({ start: '2026-04-01T00:00:00.000Z', end: run.checkpoint });
    expect(run).toMatchObject({ status: 'succeeded', exit_code: 0, error: null });
  });

  it('the commands that read: each one object, valid against its schema', async () => {
    const status = contract('status', await cli(['status']));
    expect(status.checkpoint).toBe(run.checkpoint);
    expect((status.runs as Json[])[0]).toMatchObject({ run_id: run.run_id, window_start: '2026-04-01T00:00:00.000Z' });
    const shown = contract('runs show', await cli(['runs', 'show', String(run.run_id)]));
    expect((shown.run as Json).run_id).toBe(run.run_id);
    expect(contract('state show', await cli(['state', 'show'])).checkpoint).toBe(run.checkpoint);
    expect(contract('rejects list', await cli(['rejects', 'list'])).rejects).toEqual([]);
    expect(contract('schedule', await cli(['schedule', '--list'])).jobs).toHaveLength(1);
    expect(contract('doctor', await cli(['doctor']))).toMatchObject({ ok: true, error: null });
    expect(contract('retention', await cli(['retention', '--older-than', '30d'])).applied).toBe(false);
    expect(contract('run', await cli(['run', '--dry-run'])).inputs).toEqual([]);
    const range = ['-p', 'from=2026-04-01', '-p', 'to=2026-04-02'];
    const top = contract('query', await cli(['query', 'top_users_by_cost', ...range]));
    expect((top.rows as Json[])[0]!.cost_usd).toMatch(/^\d+\.\d+$/); // an exact decimal, as text
    const out = ws.path('top.csv');
    expect(contract('query', await cli(['query', 'top_users_by_cost', ...range, '--out', out]))).toMatchObject({
      out,
      row_count: (top.rows as Json[]).length,
    });
    expect(contract('report', await cli(['report', '--out', ws.path('report.html')])).file).toBe(
      ws.path('report.html'),
    );
    expect(contract('migrate', await cli(['migrate'])).applied).toBe(0);
    expect(contract('init', await cli(['init', ws.path('starter')])).written).toContain(ws.path('starter/aetl.yaml'));
  }, 120_000);

  it('the commands under the lock: each a run summary with its own detail', async () => {
    const from = ['--from', '2026-04-01T00:00:00Z', '--to', '2026-04-01T01:00:00Z'];
    expect(contract('check', await cli(['check', '--window'])).status).toBe('succeeded');
    expect(contract('reconcile', await cli(['reconcile', '--days', '1'])).detail).toHaveLength(1);
    const backfill = contract(
      'backfill',
      await cli(['backfill', '--from', '2026-03-31T23:00:00Z', '--to', '2026-04-01']),
    );
    expect(backfill.detail).toMatchObject({ days: 1 });
    contract('rebuild-dims', await cli(['rebuild-dims']));
    contract('compact', await cli(['compact']));
    expect(contract('retention', await cli(['retention', '--older-than', '7d', '--apply'])).command).toBe('retention');
    expect(contract('replay', await cli(['replay', ...from])).detail).toMatchObject({ windows: 1, inserted: 0 });
    contract('rejects replay', await cli(['rejects', 'replay', '--all']));
    const loss = contract('accept-loss', await cli(['accept-loss', ...from, '--reason', 'test']));
    expect(loss.detail).toMatchObject({ from: '2026-04-01T00:00:00.000Z', to: '2026-04-01T01:00:00.000Z' });
    contract('forget', await cli(['forget', '--user', 'user_not_in_reference', '--yes']));
    const set = contract(
      'state set-checkpoint',
      await cli(['state', 'set-checkpoint', '2026-04-01T02:00:00Z', '--yes']),
    );
    expect(set.detail).toEqual({ before: run.checkpoint, after: '2026-04-01T02:00:00.000Z' });
    expect(contract('state reset', await cli(['state', 'reset', '--yes'])).detail).toMatchObject({ after: null });
  }, 180_000);

  it('failures: one object with exit_code and error, for usage (2), config (2), lock held (1), checks failed (3)', async () => {
    const usage = contract('run', await cli(['run', '--bogus']));
    expect(usage).toMatchObject({ exit_code: 2, error: { kind: 'usage', class: 'CommanderError' } });
    const invalid = ws.writeConfig({ window: { max_window: 'soon' } }, 'invalid.yaml');
    const bad = contract('status', await aetl(['status', '--json', '--config', invalid]));
    expect(bad).toMatchObject({ exit_code: 2, error: { kind: 'config', class: 'ConfigError' } });
    expect((bad.error as Json).message).toContain('window.max_window');

    const lock = `${ws.warehouse}.lock`;
    const owner = { token: 't', pid: process.pid, host: hostname(), runId: 'r-live', command: 'run', acquiredAt: NOW };
    writeFileSync(lock, JSON.stringify(owner));
    try {
      const held = contract('run', await cli(['run']));
      expect(held).toMatchObject({ exit_code: 1, error: { kind: 'lock_held', class: 'LockHeldError' } });
      const skipped = contract(
        'backfill',
        await cli(['backfill', '--from', '2026-04-01', '--to', '2026-04-02', '--skip-if-locked']),
      );
      expect(skipped).toMatchObject({ status: 'skipped', exit_code: 0, error: { kind: 'lock_held' } });
    } finally {
      rmSync(lock, { force: true });
    }

    const lossy = ws.writeConfig(
      {
        source: { kind: 'simulator', simulator: { seed: 4, rate_per_minute: 1, faults: { lost_share: 0.2 } } },
        window: { initial_start: '2026-04-01T02:00:00Z' },
        ...apart('lossy'),
        checks: { anomalies: { enabled: false } },
      },
      'lossy.yaml',
    );
    const blocked = contract('run', await aetl(['run', '--json', '--config', lossy], { AETL_NOW: NOW }));
    expect(blocked).toMatchObject({ status: 'checks_failed', exit_code: 3, error: { kind: 'checks_failed' } });
    expect((blocked.error as Json).message).toContain('completeness');

    const missing = ws.writeConfig(
      { source: { kind: 'files', files: ws.path('no-such-inbox') }, ...apart('missing') },
      'missing.yaml',
    );
    const doctor = contract('doctor', await aetl(['doctor', '--json', '--config', missing]));
    expect(doctor).toMatchObject({ ok: false, exit_code: 1, error: { kind: 'run_failed' } });
  }, 120_000);

  it('simulate serve prints its one object; a refused token is exit 2 with the key named and the token never shown', async () => {
    const serving = spawnAetl(
      ['simulate', 'serve', '--port', '0', '--token', 'the-right-token', '--json', '--config', config],
      {
        AETL_NOW: NOW,
      },
    );
    let printed = '';
    serving.child.stdout!.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    try {
      await expect.poll(() => printed, { timeout: 20_000 }).toContain('"exit_code"');
      const served = JSON.parse(printed) as { url: string };
      const events = ws.writeConfig(
        {
          source: { kind: 'events_api', url: served.url, token: '${AETL_SOURCE_TOKEN}', max_retries: 0 },
          ...apart('events'),
        },
        'events.yaml',
      );
      const refused = contract(
        'run',
        await aetl(['run', '--json', '--config', events], { AETL_NOW: NOW, AETL_SOURCE_TOKEN: SECRET }),
      );
      expect(refused).toMatchObject({ exit_code: 2, error: { kind: 'credential_refused' } });
      expect((refused.error as Json).message).toContain('source.token');
    } finally {
      serving.signal('SIGTERM');
    }
    expect(contract('simulate serve', await serving.done).token).toBe('the-right-token');
  }, 60_000);

  it('the scheduler, once stopped, prints one object', async () => {
    const scheduler = spawnAetl(['schedule', '--json', '--config', config], { AETL_NOW: NOW });
    await scheduler.waitForLog((record) => record.msg === 'scheduler started');
    scheduler.signal('SIGTERM');
    expect(contract('schedule', await scheduler.done)).toEqual({ stopped: true, exit_code: 0 });
  }, 30_000);

  it('--version and --help print one object too', async () => {
    const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(contract('--version', await aetl(['--version', '--json'])).version).toBe(version);
    expect(contract('--help', await aetl(['--help', '--json'])).help).toContain('Usage: aetl');
  });

  // Last: the tests above filled `covered`. A command added without a schema, or not run here, fails it.
  it('every command of the program has a schema and was run above', () => {
    const commands = leafCommands(buildProgram());
    expect(commands.length).toBeGreaterThan(20);
    expect(Object.keys(SCHEMA.$defs.commands).sort()).toEqual([...commands, '--version', '--help'].sort());
    expect([...covered].sort()).toEqual(Object.keys(SCHEMA.$defs.commands).sort());
  });
});
