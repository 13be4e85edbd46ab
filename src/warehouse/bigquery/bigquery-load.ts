import { join } from 'node:path';
import type { PackageManifest } from '../../staging/package.js';
import { DAY_MS } from '../../util/dates.js';
import type { BigQueryClient } from './bigquery-client.js';
import { batchStatsSql, loadScript, stagingTables, type Dataset } from './bigquery-sql.js';

/** As in DuckDB: how far a later version's timestamp may move and still meet its first version. */
const CONFLICT_HORIZON_MS = 7 * DAY_MS;

export interface BigQueryPackageLoad {
  pipeline: string;
  runId: string;
  seq: number;
  packageDir: string;
  manifest: PackageManifest;
  checkpointTo: number | null;
  nowMs: number;
}

export interface BigQueryBatchStats {
  rows: number;
  distinctIds: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * One package into BigQuery: its staged Parquet through load jobs into
 * run-scoped staging tables (never streaming inserts), then one transaction
 * (loadScript), then the staging tables dropped. A crash before the commit
 * leaves the warehouse as it was; the re-run loads the package again.
 */
export async function loadPackageToBigQuery(
  client: BigQueryClient,
  ds: Dataset,
  load: BigQueryPackageLoad,
): Promise<BigQueryBatchStats> {
  const staging = stagingTables(load.runId, load.seq);
  const { events, policies } = load.manifest.files;
  const dropStaging = async () => {
    await client.dropTable(staging.events);
    await client.dropTable(staging.policies);
  };
  try {
    for (const file of events)
      await client.loadParquet('loading staged events', join(load.packageDir, file), staging.events);
    for (const file of policies)
      await client.loadParquet('loading staged policies', join(load.packageDir, file), staging.policies);
    if (events.length === 0) {
      await dropStaging();
      return { rows: 0, distinctIds: 0 };
    }
    const [stats] = await client.query('measuring the batch', batchStatsSql(ds, staging.events));
    const minMs = Number(stats!.min_ts_ms);
    const maxMs = Number(stats!.max_ts_ms);
    const script = loadScript(ds, staging, { policies: policies.length > 0, checkpoint: load.checkpointTo !== null });
    await client.query('merging the batch', script, {
      pipeline: { type: 'STRING', value: load.pipeline },
      run_id: { type: 'STRING', value: load.runId },
      now: { type: 'TIMESTAMP', value: iso(load.nowMs) },
      lo_ts: { type: 'TIMESTAMP', value: iso(minMs - CONFLICT_HORIZON_MS) },
      hi_ts: { type: 'TIMESTAMP', value: iso(maxMs + 1 + CONFLICT_HORIZON_MS) },
      ...(load.checkpointTo !== null && { checkpoint: { type: 'TIMESTAMP', value: iso(load.checkpointTo) } }),
    });
    await dropStaging();
    return { rows: Number(stats!.row_count), distinctIds: Number(stats!.distinct_ids) };
  } catch (error) {
    await dropStaging().catch(() => undefined); // the load's own error is the one to report
    throw error;
  }
}
