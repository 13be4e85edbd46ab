import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * vitest's global setup: every BigQuery stand-in of the run records what it
 * receives into one folder (the workers inherit the variable), which
 * captured-bigquery-sql.test.ts analyzes after the other tests. A folder
 * given from outside is kept; one made here is removed at the end.
 */
export default function setup(): (() => void) | undefined {
  if (process.env.AETL_BQ_CAPTURE_DIR) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'aetl-bq-capture-'));
  process.env.AETL_BQ_CAPTURE_DIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
