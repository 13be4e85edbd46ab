import { readAhead } from '../util/read-ahead.js';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { blockingChecks } from '../checks/blocking.js';
import { plausibleRange, privacyRules } from '../config/schema.js';
import type { ValidationRules } from '../staging/validate-batch.js';
import { publishPendingLake } from '../lake/publish.js';
import { lakeSettings } from './open-warehouse.js';
import type { RecordTally, SourceFile } from '../source/files.js';
import type { RawRecord, WindowedSource } from '../source/source.js';
import type { TimeWindow } from '../state/window.js';
import type { PackageManifest } from '../staging/package.js';
import { fault, failpoint } from '../util/failpoint.js';
import { RunFailedError } from '../util/errors.js';
import type { LoadOutcome, LoadRequest, Warehouse, WarehouseLake, WarehouseLoad } from '../warehouse/warehouse.js';
import { PackageBuilder } from './extract.js';
import type { Session } from './session.js';

/** One loaded window (or file): what the warehouse reported, and where it came from. */
export interface WindowResult extends LoadOutcome {
  seq: number;
  window: TimeWindow | null;
  files: string[];
}

export interface ExtractedPackage {
  seq: number;
  dir: string;
  manifest: PackageManifest;
  extractMs: number;
}

export interface PackageSource {
  window: TimeWindow | null;
  records: AsyncIterable<RawRecord[]>;
  sourceCount: number | null;
  sourceFiles: SourceFile[];
  /** Files: the reader's own count of the records it found, complete once the file is read. */
  found?: RecordTally;
}

/**
 * What loading a package needs of the warehouse: the load, then the lake publish of what it
 * marked, then letting readers in other processes at a DuckDB file (between two loads).
 */
export type PackageWarehouse = WarehouseLoad & WarehouseLake & Pick<Warehouse, 'letReadersIn'>;

/** What extraction needs of a session: a dry run extracts with no warehouse to write to. */
export type ExtractContext = Pick<
  Session,
  'config' | 'runId' | 'stagingRoot' | 'stop' | 'nextSeq' | 'erasedSubjects' | 'nowMs' | 'runProgress'
>;

/** What validation needs from the config and the warehouse, for records read in `window` (null: no clipping). */
export function validationRules(
  context: Pick<ExtractContext, 'config' | 'erasedSubjects' | 'nowMs'>,
  window: TimeWindow | null,
): ValidationRules {
  const { config } = context;
  return {
    window,
    maxRecordBytes: config.source.max_record_bytes,
    privacy: {
      ...privacyRules(config),
      erasedSubjects: context.erasedSubjects,
      erasureKey: config.privacy.key ?? null,
    },
    decisionAliases: config.contract.decision_aliases,
    plausibleRange: plausibleRange(config, context.nowMs),
  };
}

/**
 * Extract → validate → stage up to `limit` records: one load package on disk,
 * complete once its manifest is written. Only the package that exhausts the
 * source carries the source's count and files (for the completeness check
 * and the file ledger).
 */
async function extractPart(
  session: ExtractContext,
  input: PackageSource,
  records: AsyncIterator<RawRecord[]>,
  limit: { records: number; chars: number },
): Promise<{ pkg: ExtractedPackage; exhausted: boolean }> {
  const seq = session.nextSeq();
  const dir = join(session.stagingRoot, session.runId, String(seq).padStart(4, '0'));
  const started = performance.now();
  session.runProgress?.stage('extract', input.window);
  const builder = await PackageBuilder.create(
    dir,
    validationRules(session, input.window),
    session.config.staging.workers,
  );
  try {
    let taken = 0;
    let exhausted = false;
    while (taken < limit.records && builder.stagedChars < limit.chars) {
      const next = await records.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      session.stop.throwIfRequested();
      // A fault for the file-completeness test: a record the reader found never reaches the package.
      await builder.add(fault('extract:drop-record') && taken === 0 ? next.value.slice(1) : next.value);
      taken += next.value.length;
      session.runProgress?.read(next.value.length);
      failpoint('extract:page');
    }
    const manifest = exhausted
      ? await builder.finish(session.runId, input.sourceCount, input.sourceFiles, input.found?.records ?? null)
      : await builder.finish(session.runId, null, []);
    failpoint('extract:after-manifest');
    return { pkg: { seq, dir, manifest, extractMs: Math.round(performance.now() - started) }, exhausted };
  } catch (error) {
    await builder.abort();
    throw error;
  }
}

/** The whole source as one package (a dry run's look at a file or time window). */
export async function extractPackage(session: ExtractContext, input: PackageSource): Promise<ExtractedPackage> {
  const unbounded = { records: Infinity, chars: Infinity };
  return (await extractPart(session, input, input.records[Symbol.asyncIterator](), unbounded)).pkg;
}

/**
 * A time window as a package source: the source's count first (so events
 * arriving meanwhile cannot make the load look complete), then its pages. A
 * caller that already counted the window passes its count.
 */
export async function timeWindowSource(
  source: WindowedSource,
  window: TimeWindow,
  counted?: number,
): Promise<PackageSource> {
  const sourceCount = counted ?? (await source.count(window.startMs, window.endMs));
  // A page is fetched while the one before it is validated: the API's latency overlaps our CPU.
  return { window, records: readAhead(source.pages(window.startMs, window.endMs)), sourceCount, sourceFiles: [] };
}

/** Load → check → commit (checkpoint or ledger) → publish the lake partitions it touched → drop the package. */
export async function loadPackage(
  session: Session<PackageWarehouse>,
  pkg: ExtractedPackage,
  checkpointTo: number | null,
  options: Pick<LoadRequest, 'replayedRejects' | 'forceUpdate' | 'accountedBefore'> = {},
): Promise<WindowResult> {
  session.stop.throwIfRequested();
  if (session.lock.lost)
    throw new RunFailedError('the run lock was taken over by another process; stopping before loading');
  session.timings.add('extract', pkg.extractMs);
  session.runProgress?.stage('load', pkg.manifest.window);
  const loadStarted = performance.now();
  const outcome = await session.warehouse.loadPackage({
    pipeline: session.config.pipeline.name,
    runId: session.runId,
    seq: pkg.seq,
    packageDir: pkg.dir,
    manifest: pkg.manifest,
    checkpointTo,
    extractMs: pkg.extractMs,
    nowMs: session.nowMs,
    blockingChecks: blockingChecks(session.config.checks, pkg.manifest.window, session.acceptedLosses),
    ...options,
  });
  session.timings.add('stage', outcome.stageMs);
  session.timings.add('load', performance.now() - loadStarted - outcome.stageMs);
  failpoint('load:after-commit');
  await session.timings.time('lake', () =>
    publishPendingLake(session.warehouse, session.config.pipeline.name, lakeSettings(session.config), session.logger),
  );
  await session.warehouse.letReadersIn?.();
  rmSync(pkg.dir, { recursive: true, force: true });
  session.runProgress?.packageDone();
  const { window } = pkg.manifest;
  const result: WindowResult = {
    seq: pkg.seq,
    window,
    files: pkg.manifest.sourceFiles.map((f) => f.path),
    ...outcome,
  };
  session.logger.info(
    {
      seq: pkg.seq,
      window: window && { start: new Date(window.startMs).toISOString(), end: new Date(window.endMs).toISOString() },
      ...outcome.counts,
      checksPassed: outcome.checksPassed,
      extractMs: pkg.extractMs,
      extractWorkers: pkg.manifest.extractWorkers,
    },
    'package loaded',
  );
  session.results.push(result);
  return result;
}

/** One extracted package, and whether it ends its input. */
interface PackagePart {
  pkg: ExtractedPackage;
  exhausted: boolean;
}

/**
 * One input's packages of at most `staging.package_records`, extracted one
 * ahead: the first at once, the next as soon as the one before is taken, so
 * at most one package of an input is being extracted while another loads.
 */
export interface PackageStream {
  next(): Promise<PackagePart>;
  /** Settles once none of this input's extraction is running (after a failure or an early stop). */
  idle(): Promise<void>;
}

/** `onLast`: called when the input's last package is taken (its extraction is over). */
export function packageStream(
  session: ExtractContext,
  input: PackageSource | Promise<PackageSource>,
  onLast?: () => void,
): PackageStream {
  let records: AsyncIterator<RawRecord[]> | undefined;
  const extract = () => {
    const part = (async () => {
      const source = await input;
      records ??= source.records[Symbol.asyncIterator]();
      const { package_records, package_bytes } = session.config.staging;
      return extractPart(session, source, records, { records: package_records, chars: package_bytes });
    })();
    part.catch(() => undefined); // seen by next(); until then it must not count as unhandled
    return part;
  };
  let ahead = extract();
  return {
    async next() {
      const part = await ahead;
      if (part.exhausted) onLast?.();
      else ahead = extract();
      return part;
    },
    idle: () =>
      ahead.then(
        () => undefined,
        () => undefined,
      ),
  };
}

/** One input loaded: its last package's result (checks, checkpoint), with counts over all its packages. */
export interface InputResult extends WindowResult {
  totals: { packages: number; read: number; inserted: number; replaced: number };
}

/**
 * Loads one file or time window from its package stream: each package while
 * the next is extracted (one of each at a time), and only the last one carries
 * the source's count, the file ledger and the checkpoint. A package that fails
 * its blocking checks ends the input there (file out of the ledger,
 * checkpoint unmoved), so it is redone whole once fixed; what loaded is not
 * loaded twice.
 */
export async function loadStream(
  session: Session<PackageWarehouse>,
  stream: PackageStream,
  checkpointTo: number | null,
  options: Pick<LoadRequest, 'forceUpdate'> = {},
): Promise<InputResult> {
  const totals = { packages: 0, read: 0, inserted: 0, replaced: 0 };
  let accountedBefore = 0;
  const add = (result: WindowResult) => {
    totals.packages += 1;
    totals.read += result.counts.read;
    totals.inserted += result.counts.inserted;
    totals.replaced += result.replaced;
    accountedBefore += result.accounted;
    return result;
  };
  let loading: Promise<WindowResult | null> = Promise.resolve(null);
  try {
    for (;;) {
      const part = await stream.next();
      const previous = await loading; // loads stay in order, and a failed one stops the input here
      if (previous && !previous.checksPassed) return { ...previous, totals };
      if (part.exhausted) {
        const last = await loadPackage(session, part.pkg, checkpointTo, { ...options, accountedBefore });
        return { ...add(last), totals };
      }
      loading = loadPackage(session, part.pkg, null, { ...options, accountedBefore }).then(add);
      loading.catch(() => undefined); // seen by the `await` above or below, not left unhandled
    }
  } catch (error) {
    await loading.catch(() => undefined); // never return while a load is still running
    throw error;
  } finally {
    await stream.idle(); // nor while a package is still being extracted
  }
}

/** Both steps for one file or time window, in packages of at most `staging.package_records`. */
export function extractAndLoad(
  session: Session<PackageWarehouse>,
  input: PackageSource,
  checkpointTo: number | null,
  options: Pick<LoadRequest, 'forceUpdate'> = {},
): Promise<InputResult> {
  return loadStream(session, packageStream(session, input), checkpointTo, options);
}
