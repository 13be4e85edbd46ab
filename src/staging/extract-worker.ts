import { parentPort, workerData } from 'node:worker_threads';
import type { RawRecord } from '../source/source.js';
import type { TimeWindow } from '../state/window.js';
import { validateBatch, type ValidatedBatch } from './validate-batch.js';

export type ToWorker = { id: number; records: RawRecord[] };
export type FromWorker = { id: number; batch: ValidatedBatch };

/**
 * One extract worker: parses, validates and hashes the batches it is sent and
 * returns staging rows. It never touches DuckDB (the main thread appends):
 * measured here, a DuckDB instance inside a worker thread could crash the
 * process when the thread ended.
 */
const window = workerData as TimeWindow | null;
parentPort!.on('message', ({ id, records }: ToWorker) => {
  parentPort!.postMessage({ id, batch: validateBatch(records, window) } satisfies FromWorker);
});
