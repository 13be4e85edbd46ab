import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { TimeWindow } from './window.js';
import { processAlive } from './lock.js';

/** What the run is doing: the step it started last (the next package is extracted while one loads). */
export type RunStage = 'starting' | 'extract' | 'load' | 'checks' | 'finishing';

/** A DuckDB run under way, as `aetl status` shows it (read from the file beside the database). */
export interface RunProgress {
  run_id: string;
  command: string;
  stage: RunStage;
  /** The window being extracted or loaded; null for files. */
  window: { from: string; to: string } | null;
  packages_done: number;
  records_read: number;
  started_at: string;
  updated_at: string;
  pid: number;
  host: string;
}

/** Beside the DuckDB file, as the run lock is: readers cannot ask the database while the run holds it. */
export const progressPath = (warehousePath: string) => `${warehousePath}.progress.json`;

/** Counting records rewrites the file at most this often; a new stage or package rewrites it at once. */
const COUNT_WRITE_MS = 500;

/**
 * The run's progress file, rewritten whole (a temporary file renamed over it, so
 * a reader never sees half of one) and removed when the run ends; a killed run
 * leaves it behind, which readers ignore once its process is gone.
 */
export class ProgressFile {
  private written = 0;

  private constructor(
    private readonly path: string,
    private readonly progress: RunProgress,
  ) {
    this.write();
  }

  static start(path: string, runId: string, command: string): ProgressFile {
    const now = new Date().toISOString();
    return new ProgressFile(path, {
      run_id: runId,
      command,
      stage: 'starting',
      window: null,
      packages_done: 0,
      records_read: 0,
      started_at: now,
      updated_at: now,
      pid: process.pid,
      host: hostname(),
    });
  }

  /** `window`: the one the step works on (left as it was when not given). */
  stage(stage: RunStage, window?: TimeWindow | null): void {
    this.progress.stage = stage;
    if (window !== undefined) {
      this.progress.window = window && {
        from: new Date(window.startMs).toISOString(),
        to: new Date(window.endMs).toISOString(),
      };
    }
    this.write();
  }

  read(records: number): void {
    this.progress.records_read += records;
    if (Date.now() - this.written >= COUNT_WRITE_MS) this.write();
  }

  /** A package committed; the run goes back to extracting the next (or finishes). */
  packageDone(): void {
    this.progress.packages_done++;
    this.stage('extract');
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }

  private write(): void {
    this.written = Date.now();
    this.progress.updated_at = new Date(this.written).toISOString();
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.progress));
    renameSync(tmp, this.path);
  }
}

/** The run under way, or null: none, or a killed one's file (its process on this host is gone). */
export function readProgress(path: string): RunProgress | null {
  let progress: RunProgress;
  try {
    progress = JSON.parse(readFileSync(path, 'utf8')) as RunProgress;
  } catch {
    return null; // no run under way (a rename never leaves half a file)
  }
  return progress.host === hostname() && !processAlive(progress.pid) ? null : progress;
}
