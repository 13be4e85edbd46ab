import { randomBytes } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { isDynamicPattern } from 'tinyglobby';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { loadReferenceData, REFERENCE_DIMENSIONS, type ReferenceKind } from '../reference/reference-data.js';
import { configFile as configFileOf, type GlobalOptions } from './command-kit.js';
import { sourceHttp } from '../pipeline/open-source.js';
import {
  connectDriver,
  connectWarehouse,
  duckdbSettings,
  scratchSettings,
  type RemoteConfig,
} from '../pipeline/open-warehouse.js';
import { lockPath } from '../pipeline/run-lock.js';
import { EventsApiSource } from '../source/events-api.js';
import { SourceUnreachableError } from '../source/http.js';
import { heldByDeadProcess, inspectLease, leaseLocation, leaseOwner } from '../state/lease-lock.js';
import { describeOwner, inspectLock, RunLock } from '../state/lock.js';
import { nowMs } from '../util/clock.js';
import { SourceAuthError } from '../util/errors.js';
import { DuckDBDriver } from '../warehouse/duckdb/duckdb-driver.js';
import { scratchTableProbe } from '../warehouse/duckdb/duckdb-probe.js';
import { migrationFiles, pendingMigrations } from '../warehouse/sql/migrations.js';

/**
 * `aetl doctor`: everything a run needs, checked without changing the
 * warehouse's data or the pipeline's state. Every check reports a row; a
 * check that throws is a failed row, never a crash.
 */
export type DoctorStatus = 'pass' | 'warn' | 'fail' | 'skipped';

// A type, not an interface: rows are printed as plain records.
export type DoctorCheck = {
  check: string;
  status: DoctorStatus;
  detail: string;
};

export interface DoctorReport {
  checks: DoctorCheck[];
  ok: boolean;
}

const row = (status: DoctorStatus) => (check: string, detail: string) => ({ check, status, detail });
const pass = row('pass');
const warn = row('warn');
const fail = row('fail');
const skipped = row('skipped');

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Skew the `Date` header cannot resolve (whole seconds) plus a slow answer: below it, clocks agree. */
const SKEW_WARN_MS = 5_000;

export async function doctor(options: GlobalOptions, logger: Logger): Promise<DoctorReport> {
  let config: Config;
  let configFile: string;
  try {
    configFile = configFileOf(options, logger);
    config = loadConfig(configFile);
  } catch (error) {
    return report([fail('config', messageOf(error))]);
  }
  // The lock as found: the warehouse probe takes (and so clears) a stale one.
  const lock = await guarded(['run lock'], async () => [await lockCheck(config)]);
  const checks = [
    pass('config', `${configFile}: valid (pipeline ${config.pipeline.name})`),
    ...(await guarded(['source', 'clock skew'], () => sourceChecks(config, logger))),
    ...(await guarded(['warehouse', 'migrations', 'scratch table'], () => warehouseChecks(config, logger))),
    ...referenceChecks(config),
    ...(await guarded(['lake', 'staging'], async () => folderChecks(config))),
    ...lock,
  ];
  return report(checks);
}

function report(checks: DoctorCheck[]): DoctorReport {
  return { checks, ok: checks.every((c) => c.status !== 'fail') };
}

/** Runs a group of checks; if it throws, its first row fails with the error and the others are skipped. */
async function guarded(names: string[], work: () => Promise<DoctorCheck[]>): Promise<DoctorCheck[]> {
  try {
    return await work();
  } catch (error) {
    const [first, ...rest] = names;
    return [fail(first!, messageOf(error)), ...rest.map((name) => skipped(name, `${first} failed`))];
  }
}

async function sourceChecks(config: Config, logger: Logger): Promise<DoctorCheck[]> {
  const s = config.source;
  const notHttp = skipped('clock skew', `not an HTTP source (${s.kind})`);
  switch (s.kind) {
    case 'simulator':
      return [pass('source', 'in-process simulator'), notHttp];
    case 'files':
      return [filesCheck(s.files!), notHttp];
    case 'events_api':
    case 'export_api':
      return httpSourceChecks(config, logger);
  }
}

/**
 * One authenticated count request for the last minute, not retried: both
 * HTTP kinds count through the Events API, so it proves the URL and the token.
 */
async function httpSourceChecks(config: Config, logger: Logger): Promise<DoctorCheck[]> {
  const http = { ...sourceHttp(config, config.source.token!, logger), maxRetries: 0 };
  const source = new EventsApiSource(config.source.url!, 1, http);
  const endMs = nowMs();
  try {
    const answer = await source.countWithClock(endMs - 60_000, endMs);
    return [
      pass('source', `${source.description}: token accepted, ${answer.count} events in the last minute`),
      clockCheck(config, answer.sourceMs, answer.localMs),
    ];
  } catch (error) {
    const reason =
      error instanceof SourceAuthError
        ? 'token rejected'
        : error instanceof SourceUnreachableError
          ? 'unreachable'
          : 'request failed';
    return [fail('source', `${reason}: ${messageOf(error)}`), skipped('clock skew', 'the source did not answer')];
  }
}

/**
 * Our clock against the source's. Windows end at now − settle_delay: a clock
 * ahead by more than half of that closes windows the source has not settled
 * (events missed until reconcile); a clock behind only delays loads, but a
 * skew that large means the clock is not synchronised at all. So: fail above
 * half of window.settle_delay (at least SKEW_WARN_MS), warn above SKEW_WARN_MS.
 */
function clockCheck(config: Config, sourceMs: number | undefined, localMs: number): DoctorCheck {
  if (sourceMs === undefined) return skipped('clock skew', 'the source sent no Date header');
  const skewMs = localMs - sourceMs;
  const seconds = Math.round(Math.abs(skewMs) / 1000);
  const failAboveMs = Math.max(config.window.settle_delay / 2, SKEW_WARN_MS);
  const detail = `our clock is ${seconds} s ${skewMs >= 0 ? 'ahead of' : 'behind'} the source's`;
  if (Math.abs(skewMs) > failAboveMs) {
    return fail(
      'clock skew',
      `${detail}: more than half of window.settle_delay (${config.window.settle_delay / 1000} s); synchronise the clock (NTP)`,
    );
  }
  if (Math.abs(skewMs) > SKEW_WARN_MS) return warn('clock skew', `${detail}; check the clock's synchronisation (NTP)`);
  return pass('clock skew', `within ${SKEW_WARN_MS / 1000} s of the source's`);
}

/** What a files pattern (absolute once loaded) reads from: the path itself, or a glob's leading plain segments. */
function baseOf(pattern: string): string {
  if (!isDynamicPattern(pattern)) return pattern;
  const segments = pattern.split('/');
  return (
    segments
      .slice(
        0,
        segments.findIndex((segment) => isDynamicPattern(segment)),
      )
      .join('/') || '/'
  );
}

function filesCheck(pattern: string): DoctorCheck {
  const base = baseOf(pattern);
  try {
    accessSync(base, constants.R_OK);
    return pass('source', `${base} exists and is readable`);
  } catch (error) {
    return fail('source', `source.files: cannot read ${base} (${(error as NodeJS.ErrnoException).code})`);
  }
}

/** Creates `dir` if missing, then writes, fsyncs and removes a temporary file in it; returns why not, if it cannot. */
function unwritable(dir: string): string | undefined {
  const file = join(dir, `.aetl-doctor-${randomBytes(6).toString('hex')}.tmp`);
  try {
    mkdirSync(dir, { recursive: true });
    const fd = openSync(file, 'wx');
    try {
      writeSync(fd, 'aetl doctor\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
      rmSync(file, { force: true });
    }
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? messageOf(error);
  }
}

/**
 * Every folder a run writes: the lake (at lake.path whatever the warehouse,
 * DESIGN.md decision 2), staging, and the metrics textfile's folder.
 */
function folderChecks(config: Config): DoctorCheck[] {
  const folder = (check: string, key: string, dir: string) => {
    const why = unwritable(dir);
    return why
      ? fail(check, `${key} ${dir} is not writable (${why}): point ${key} at a folder this user can write`)
      : pass(check, `${dir} is writable`);
  };
  const metrics = config.metrics.textfile;
  return [
    folder('lake', 'lake.path', config.lake.path),
    folder('staging', 'staging.path', config.staging.path),
    ...(metrics ? [folder('metrics textfile', 'metrics.textfile', dirname(metrics))] : []),
  ];
}

/** Each configured reference CSV is read and validated as a run would, so a bad path or row shows before a run. */
function referenceChecks(config: Config): DoctorCheck[] {
  return (Object.keys(REFERENCE_DIMENSIONS) as ReferenceKind[]).map((kind) => {
    const check = `reference ${kind}`;
    const path = config.reference[kind];
    if (path === undefined) return skipped(check, `reference.${kind} not configured: facts get inferred members`);
    try {
      const rows = loadReferenceData({ [kind]: path })[kind].length;
      return pass(check, `${path}: ${rows} rows`);
    } catch (error) {
      return fail(check, messageOf(error));
    }
  });
}

async function warehouseChecks(config: Config, logger: Logger): Promise<DoctorCheck[]> {
  const w = config.warehouse;
  if (w.kind !== 'duckdb') {
    const warehouse = await connectWarehouse(config, logger);
    try {
      await warehouse.query('SELECT 1 AS ok', {});
    } finally {
      await warehouse.close();
    }
    return [
      pass('warehouse', `${warehouse.description}: connected, a query answered`),
      skipped('migrations', `not compared on ${w.kind}; every run applies pending ones`),
      skipped('scratch table', `not probed on ${w.kind} (DuckDB only, so far)`),
    ];
  }
  const notOpened = (why: string) => [skipped('migrations', why), skipped('scratch table', why)];
  if (!existsSync(w.path)) {
    const why = unwritable(dirname(w.path));
    if (why) {
      return [
        fail('warehouse', `cannot create ${w.path}: its folder is not writable (${why})`),
        ...notOpened('no database'),
      ];
    }
    return [
      pass('warehouse', `${w.path} not created yet: the first run will create it`),
      skipped('migrations', `no database yet: the first run applies all ${migrationFiles('duckdb').length}`),
      skipped('scratch table', 'no database yet'),
    ];
  }
  // A live run has the file: opening it would only get in that run's way (the run lock section says who).
  const lock = inspectLock(lockPath(w), Date.now());
  if (lock && !lock.stale) {
    return [
      warn('warehouse', `${w.path} not opened: a run holds it (see run lock)`),
      ...notOpened('a run is using it'),
    ];
  }
  // Read-write, as a run opens it, under the run lock for the moment of the probe: a run starting
  // meanwhile waits or skips as for any other run. A file held by another process fails here as it would for a run.
  let held: RunLock;
  let db;
  try {
    held = await RunLock.acquire(lockPath(w), `doctor-${process.pid}`, 'doctor', 0);
  } catch (error) {
    return [warn('warehouse', `${w.path} not opened: ${messageOf(error)}`), ...notOpened('a run is using it')];
  }
  try {
    db = await DuckDBDriver.open(w.path, duckdbSettings(config, w), logger);
  } catch (error) {
    held.release();
    return [fail('warehouse', messageOf(error)), ...notOpened('cannot open the database')];
  }
  try {
    const pending = await pendingMigrations(db);
    const probe = await scratchTableProbe(db.runner).then(
      () => pass('scratch table', 'create, insert, MERGE and drop succeeded'),
      (error: unknown) => fail('scratch table', `cannot change ${w.path}: ${messageOf(error)}`),
    );
    return [
      pass('warehouse', `DuckDB ${w.path} opens read-write`),
      pending.length === 0
        ? pass('migrations', `up to date (${migrationFiles('duckdb').length} applied)`)
        : warn('migrations', `${pending.length} pending (${pending.join(', ')}): the next run applies them`),
      probe,
    ];
  } finally {
    try {
      await db.close();
    } finally {
      held.release();
    }
  }
}

async function lockCheck(config: Config): Promise<DoctorCheck> {
  const w = config.warehouse;
  if (w.kind !== 'duckdb') return leaseCheck(config, w);
  const path = lockPath(w);
  const lock = inspectLock(path, Date.now());
  if (!lock) return pass('run lock', `free (${path})`);
  const who = lock.owner ? describeOwner(lock.owner) : 'an unreadable owner record';
  return lock.stale
    ? warn('run lock', `stale lock ${path} (${who}): the next run will take it over`)
    : warn('run lock', `held by a live run (${who}): runs wait for it or skip (${path})`);
}

/** The lease row on BigQuery and Snowflake: expired or released is free (the next run takes it over at once). */
async function leaseCheck(config: Config, w: RemoteConfig): Promise<DoctorCheck> {
  const pipeline = config.pipeline.name;
  const driver = await connectDriver(w, scratchSettings(config));
  try {
    const where = leaseLocation(driver, pipeline);
    const row = await inspectLease(driver, pipeline);
    if (!row) return pass('run lock', `free (${where}: never taken)`);
    const who = `${describeOwner(leaseOwner(row))}, token ${row.token}`;
    if (row.remainingMs <= 0) return pass('run lock', `free (${where}; last held by ${who})`);
    return heldByDeadProcess(row)
      ? warn('run lock', `stale lease (${who}; its process is gone): the next run takes it over (${where})`)
      : warn(
          'run lock',
          `held by a live run (${who}; lease until ${new Date(row.expiresMs).toISOString()}): runs wait for it or skip (${where})`,
        );
  } finally {
    await driver.close();
  }
}
