import { Worker } from 'node:worker_threads';
import type { RawRecord } from '../source/source.js';
import type { FromWorker, ToWorker } from '../staging/extract-worker.js';
import {
  addDrift,
  writeManifest,
  type DriftCounts,
  type ExtractCounts,
  type PackageManifest,
} from '../staging/package.js';
import { StagingWriter } from '../staging/staging-writer.js';
import { validateBatch, type ValidatedBatch, type ValidationRules } from '../staging/validate-batch.js';

/** Batches a worker may have queued: enough to keep it busy, few enough that memory stays bounded. */
const IN_FLIGHT_PER_WORKER = 2;

/**
 * Records validated on the main thread before a package turns to workers: a
 * small window is done before threads would have started.
 */
const INLINE_RECORDS = 20_000;

/**
 * Records validated and staged at once: what a slice builds dies young. A whole 5,000-record API
 * page's rows outlived V8's young generation and piled up in the old one until its next full
 * collection (peak RSS 50-70 MB higher at 200k events than with slices of a file's size).
 */
const SLICE_RECORDS = 1000;

/**
 * Extract workers: parse, validate and hash off the main thread, which
 * meanwhile reads the source and appends the rows they return. A batch goes
 * to the least busy worker; when all are full, `validate` waits (backpressure
 * to the source). Rows come back in completion order, which the load does not
 * depend on (it orders by event id and hash).
 */
class WorkerPool {
  private readonly workers: { thread: Worker; inFlight: number }[];
  private readonly waiting = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  private readonly inFlight = new Set<Promise<void>>();
  private nextId = 0;
  private failure: Error | undefined;

  constructor(
    size: number,
    rules: ValidationRules,
    private readonly onBatch: (batch: ValidatedBatch) => Promise<void>,
  ) {
    this.workers = Array.from({ length: size }, () => {
      const thread = new Worker(new URL('../staging/extract-worker.js', import.meta.url), { workerData: rules });
      const worker = { thread, inFlight: 0 };
      thread.on('message', ({ id, batch }: FromWorker) => {
        worker.inFlight--;
        const waiter = this.waiting.get(id);
        this.waiting.delete(id);
        if (!waiter) return; // the pool has failed: nobody waits for this batch any more
        this.onBatch(batch).then(waiter.resolve, waiter.reject);
      });
      thread.on('error', (error) => this.fail(error));
      thread.on('messageerror', (error) => this.fail(error));
      // An exit while batches are owed (not by our terminate) must not leave `drain` waiting forever.
      thread.on('exit', (code) => {
        if (worker.inFlight > 0) this.fail(new Error(`exited with code ${code}`));
      });
      return worker;
    });
  }

  private fail(error: Error): void {
    this.failure ??= new Error(`extract worker failed: ${error.message}`);
    for (const waiter of this.waiting.values()) waiter.reject(this.failure);
    this.waiting.clear();
  }

  async validate(records: RawRecord[]): Promise<void> {
    while (this.inFlight.size >= this.workers.length * IN_FLIGHT_PER_WORKER) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
    const worker = this.workers.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
    const id = this.nextId++;
    const done = new Promise<void>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    worker.inFlight++;
    worker.thread.postMessage({ id, records } satisfies ToWorker);
    this.inFlight.add(done);
    // A failure is seen by the next validate (through race) or by drain; do not leave it unhandled.
    done.then(
      () => this.inFlight.delete(done),
      () => undefined,
    );
  }

  /** Waits for every batch sent, then stops the threads. */
  async drain(): Promise<void> {
    try {
      await Promise.all(this.inFlight);
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.thread.terminate()));
  }
}

function addCounts(total: ExtractCounts, counts: ExtractCounts): void {
  for (const key of Object.keys(total) as (keyof ExtractCounts)[]) total[key] += counts[key];
}

/**
 * Builds one load package: validates each raw record, stages valid events
 * and quarantines the rest (nothing is dropped silently), clips to the window.
 * Past INLINE_RECORDS the rest of a large package is validated by `workers`
 * extract threads.
 */
export class PackageBuilder {
  private readonly counts: ExtractCounts = { read: 0, valid: 0, rejected: 0, outOfWindow: 0 };
  private readonly drift: DriftCounts = {};
  private pool: WorkerPool | undefined;
  /** Batches are appended one at a time: a part may be being written out when the next arrives. */
  private staged: Promise<void> = Promise.resolve();

  private constructor(
    private readonly writer: StagingWriter,
    private readonly dir: string,
    private readonly rules: ValidationRules,
    private readonly workers: number,
  ) {}

  static async create(dir: string, rules: ValidationRules, workers = 0): Promise<PackageBuilder> {
    return new PackageBuilder(await StagingWriter.create(dir), dir, rules, workers);
  }

  async add(records: RawRecord[]): Promise<void> {
    if (records.length <= SLICE_RECORDS) return this.addSlice(records); // a file's batch: no copy
    for (let at = 0; at < records.length; at += SLICE_RECORDS)
      await this.addSlice(records.slice(at, at + SLICE_RECORDS));
  }

  private addSlice(records: RawRecord[]): Promise<void> {
    if (!this.pool && this.workers > 0 && this.counts.read >= INLINE_RECORDS) {
      this.pool = new WorkerPool(this.workers, this.rules, (batch) => this.stageInTurn(batch));
    }
    if (this.pool) return this.pool.validate(records);
    return this.stage(validateBatch(records, this.rules));
  }

  private stageInTurn(batch: ValidatedBatch): Promise<void> {
    this.staged = this.staged.then(() => this.stage(batch));
    return this.staged;
  }

  private async stage(batch: ValidatedBatch): Promise<void> {
    addCounts(this.counts, batch.counts);
    addDrift(this.drift, batch.drift);
    await this.writer.append(batch);
  }

  /** Flushes the staged files and writes the manifest last, which marks the package complete. */
  async finish(
    runId: string,
    sourceCount: number | null,
    sourceFiles: PackageManifest['sourceFiles'],
    sourceRecords: number | null = null,
  ): Promise<PackageManifest> {
    await this.pool?.drain();
    const manifest: PackageManifest = {
      runId,
      window: this.rules.window,
      sourceFiles,
      sourceCount,
      sourceRecords,
      files: await this.writer.finish(),
      counts: this.counts,
      drift: this.drift,
      extractWorkers: this.pool ? this.workers : 0,
    };
    writeManifest(this.dir, manifest);
    return manifest;
  }

  /** Text staged so far (validated in threads, a batch may still be on its way). */
  get stagedChars(): number {
    return this.writer.stagedChars;
  }

  async abort(): Promise<void> {
    void this.pool?.close();
    await this.writer.abort();
  }
}
