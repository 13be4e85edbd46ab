import { parentPort, workerData } from 'node:worker_threads';
import type { RawRecord } from '../source/source.js';
import { validateBatch, type ValidatedBatch, type ValidationRules } from './validate-batch.js';

export type ToWorker = { id: number; records: RawRecord[] };
export type FromWorker = { id: number; batch: ValidatedBatch };

/**
 * One extract worker: parses, validates and hashes the batches it is sent and
 * returns staging rows. It never touches DuckDB (the main thread appends):
 * measured here, a DuckDB instance inside a worker thread could crash the
 * process when the thread ended.
 */
const rules = workerData as ValidationRules;
parentPort!.on('message', ({ id, records }: ToWorker) => {
  parentPort!.postMessage({ id, batch: validateBatch(records, rules) } satisfies FromWorker);
});
