import { Worker } from 'node:worker_threads';
import type { RawRecord } from '../source/source.js';
import type { TimeWindow } from '../state/window.js';
import type { ExtractWorkerData, FromWorker, ToWorker } from '../staging/extract-worker.js';
import { writeManifest, type ExtractCounts, type PackageManifest } from '../staging/package.js';
import { RecordStager, type StagedResult } from '../staging/record-stager.js';
import type { StagingParts } from '../staging/staging-writer.js';

/** Batches a worker may have queued: enough to keep it busy, few enough that memory stays bounded. */
const IN_FLIGHT_PER_WORKER = 2;

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (error: Error) => void;
}

/** One extract worker thread and the replies it owes; a failure rejects every reply still owed. */
class ExtractWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Waiter<void>>();
  private finished: Waiter<StagedResult> | undefined;
  private failure: Error | undefined;

  constructor(data: ExtractWorkerData) {
    this.worker = new Worker(new URL('../staging/extract-worker.js', import.meta.url), { workerData: data });
    this.worker.on('message', (message: FromWorker) => {
      if (message.type === 'done') {
        this.pending.get(message.id)?.resolve();
        this.pending.delete(message.id);
      } else if (message.type === 'finished') {
        this.finished?.resolve(message.result);
      } else {
        this.fail(new Error(`extract worker failed: ${message.message}`));
      }
    });
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => {
      if (code !== 0) this.fail(new Error(`extract worker exited with code ${code}`));
    });
  }

  get inFlight(): number {
    return this.pending.size;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.pending.values()) waiter.reject(this.failure);
    this.pending.clear();
    this.finished?.reject(this.failure);
  }

  /** Resolves when the worker has staged the batch. */
  send(id: number, records: RawRecord[]): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const done = new Promise<void>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.worker.postMessage({ type: 'batch', id, records } satisfies ToWorker);
    return done;
  }

  async finish(): Promise<StagedResult> {
    if (this.failure) throw this.failure;
    const result = new Promise<StagedResult>((resolve, reject) => (this.finished = { resolve, reject }));
    this.worker.postMessage({ type: 'finish' } satisfies ToWorker);
    const staged = await result;
    await this.worker.terminate();
    return staged;
  }

  abort(): void {
    void this.worker.terminate();
  }
}

/**
 * Extract workers (decision: parse, validate, hash and stage off the main
 * thread, which meanwhile reads the source and talks to the warehouse). Each
 * stages its own Parquet parts; the package is all of them. A batch goes to the
 * least busy worker; when all are full, `add` waits (backpressure to the source).
 */
class WorkerPool {
  private nextId = 0;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly workers: ExtractWorker[]) {}

  async add(records: RawRecord[]): Promise<void> {
    while (this.inFlight.size >= this.workers.length * IN_FLIGHT_PER_WORKER) await Promise.race(this.inFlight);
    const worker = this.workers.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
    const sent = worker.send(this.nextId++, records);
    this.inFlight.add(sent);
    // A failure is seen by the next add (through race) or by finish; do not leave it unhandled.
    sent.then(
      () => this.inFlight.delete(sent),
      () => undefined,
    );
  }

  async finish(): Promise<StagedResult[]> {
    await Promise.all(this.inFlight);
    return Promise.all(this.workers.map((w) => w.finish()));
  }

  abort(): void {
    for (const worker of this.workers) worker.abort();
  }
}

/** The main thread's parts are `…-m-…`, worker i's `…-w{i}-…`; staged rows are numbered from i·2^40: no two collide. */
const MAIN_PARTS: StagingParts = { partPrefix: 'm-', firstRow: 0 };
function workerParts(i: number): StagingParts {
  return { partPrefix: `w${i}-`, firstRow: i * 2 ** 40 };
}

/**
 * Records staged on the main thread before a package turns to workers: a
 * small window is done before threads would have started (measured: starting
 * two workers costs more than staging a few thousand records).
 */
const INLINE_RECORDS = 20_000;

function sumCounts(results: StagedResult[]): ExtractCounts {
  const total: ExtractCounts = { read: 0, valid: 0, rejected: 0, outOfWindow: 0 };
  for (const { counts } of results)
    for (const key of Object.keys(total) as (keyof ExtractCounts)[]) total[key] += counts[key];
  return total;
}

/**
 * Builds one load package: validates each raw record, stages valid events
 * and quarantines the rest (nothing is dropped silently), clips to the window.
 * Past INLINE_RECORDS the rest of a large package goes to `workers` extract threads.
 */
export class PackageBuilder {
  private pool: WorkerPool | undefined;
  private seen = 0;

  private constructor(
    private readonly inline: RecordStager,
    private readonly dir: string,
    private readonly window: TimeWindow | null,
    private readonly memoryLimit: string,
    private readonly workers: number,
  ) {}

  static async create(
    dir: string,
    window: TimeWindow | null,
    memoryLimit: string,
    workers = 0,
  ): Promise<PackageBuilder> {
    const inline = await RecordStager.create(dir, window, memoryLimit, MAIN_PARTS);
    return new PackageBuilder(inline, dir, window, memoryLimit, workers);
  }

  add(records: RawRecord[]): Promise<void> {
    this.seen += records.length;
    if (!this.pool && this.workers > 0 && this.seen > INLINE_RECORDS) {
      const { dir, window, memoryLimit } = this;
      const threads = Array.from({ length: this.workers }, (_, i) => i + 1);
      this.pool = new WorkerPool(
        threads.map((i) => new ExtractWorker({ dir, window, memoryLimit, parts: workerParts(i) })),
      );
    }
    return this.pool ? this.pool.add(records) : this.inline.add(records);
  }

  /** Flushes the staged files and writes the manifest last, which marks the package complete. */
  async finish(
    runId: string,
    sourceCount: number | null,
    sourceFiles: PackageManifest['sourceFiles'],
  ): Promise<PackageManifest> {
    const results = [await this.inline.finish(), ...(this.pool ? await this.pool.finish() : [])];
    const drift: Record<string, number> = {};
    for (const result of results)
      for (const [field, n] of Object.entries(result.drift)) drift[field] = (drift[field] ?? 0) + n;
    const manifest: PackageManifest = {
      runId,
      window: this.window,
      sourceFiles,
      sourceCount,
      files: {
        events: results.flatMap((r) => r.files.events),
        policies: results.flatMap((r) => r.files.policies),
        rejects: results.flatMap((r) => r.files.rejects),
      },
      counts: sumCounts(results),
      drift,
      extractWorkers: results.length - 1,
    };
    writeManifest(this.dir, manifest);
    return manifest;
  }

  abort(): void {
    this.inline.abort();
    this.pool?.abort();
  }
}
