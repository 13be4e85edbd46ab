import { parentPort, workerData } from 'node:worker_threads';
import type { RawRecord } from '../source/source.js';
import type { TimeWindow } from '../state/window.js';
import { RecordStager } from './record-stager.js';
import type { StagingParts } from './staging-writer.js';

/** What the extract thread pool sends a worker when it starts it. */
export interface ExtractWorkerData {
  dir: string;
  window: TimeWindow | null;
  memoryLimit: string;
  parts: StagingParts;
}

export type ToWorker = { type: 'batch'; id: number; records: RawRecord[] } | { type: 'finish' };
export type FromWorker =
  | { type: 'done'; id: number }
  | { type: 'finished'; result: Awaited<ReturnType<RecordStager['finish']>> }
  | { type: 'error'; message: string };

/**
 * One extract worker: validates and stages the batches it is sent into its own
 * Parquet parts of the package. Messages are handled one at a time, in order.
 */
const port = parentPort!;
const data = workerData as ExtractWorkerData;
const stager = RecordStager.create(data.dir, data.window, data.memoryLimit, data.parts);
let queue = Promise.resolve();

port.on('message', (message: ToWorker) => {
  queue = queue.then(async () => {
    try {
      const s = await stager;
      if (message.type === 'batch') {
        await s.add(message.records);
        port.postMessage({ type: 'done', id: message.id } satisfies FromWorker);
      } else {
        port.postMessage({ type: 'finished', result: await s.finish() } satisfies FromWorker);
      }
    } catch (error) {
      port.postMessage({ type: 'error', message: (error as Error).stack ?? String(error) } satisfies FromWorker);
    }
  });
});
